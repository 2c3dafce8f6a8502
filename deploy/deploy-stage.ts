/**
 * One stage, from nothing to verified, in an order that keeps anything from firing before the
 * functions can work: the stage's record (API keys; a taken or unknown key name stops here, nothing
 * changed) → accounts → DataSphere project membership (stops here if the deployer may not grant it)
 * → folder roles (monitoring.editor for the metrics) → database and table → queues and the deploy's
 * secret (with the API key record; a minted key is printed once it is stored) → the runtime secret
 * → functions → invoker role → triggers → gateway (created with --gateway, kept current once it
 * exists) → verification (deploy/verify-stage.ts) → dashboard and alerts (deploy/ensure-monitoring.ts).
 * Every step reads first and changes only what differs, so a second run with the same inputs makes
 * no mutating call.
 */
import type { StaticKeys } from '../shared/config.ts';
import { addBindings, secretBindings, serviceAccount } from './access-bindings.ts';
import type { DeployContext } from './deploy-context.ts';
import {
  type AccountIds,
  ensureFolderRoles,
  ensureServiceAccounts,
  listServiceAccounts,
} from './ensure-accounts.ts';
import { ensureDatabase } from './ensure-database.ts';
import {
  type DeployedFunction,
  ensureFunctions,
  ensureInvokers,
  type WantedFunction,
} from './ensure-functions.ts';
import { ensureGateway, gatewaySpec } from './ensure-gateway.ts';
import { adminCommand, ensureProjectAccess, projectBinding } from './ensure-project-access.ts';
import { ensureQueues, type StageQueues } from './ensure-queues.ts';
import { ensureTriggers, triggerSpecs } from './ensure-triggers.ts';
import { SECRET_VARIABLES, secretReferences } from './function-secrets.ts';
import { ensureStaticKey, findSecret, putSecret, readSecret, type SecretVersion } from './lockbox-secrets.ts';
import {
  type DeploySettings,
  ENVIRONMENT_LIMIT_BYTES,
  environmentBytes,
  PENDING_RUN_STORE,
  referencedSecrets,
} from './preflight.ts';
import type { FunctionSpec } from './serverless-config.ts';
import {
  API_KEYS_RECORD_ENTRY,
  type ApiKeysPlan,
  apiKeysVariable,
  decodeRecord,
  encodeRecord,
  type MintedKey,
  resolveKeys,
} from './stage-api-keys.ts';
import type { AccountRole } from './stage-names.ts';

export const PAYLOAD_VIEWER = 'lockbox.payloadViewer';
export const ADMIN_KEY_ENTRIES = { id: 'queues-access-key-id', secret: 'queues-secret-access-key' } as const;
export const SENDER_KEY_ENTRIES = {
  id: SECRET_VARIABLES.NOTIFY_QUEUE_ACCESS_KEY_ID,
  secret: SECRET_VARIABLES.NOTIFY_QUEUE_SECRET_ACCESS_KEY,
} as const;

export interface StagePlan {
  readonly settings: DeploySettings;
  /** The functions with RUN_STORE resolved to `runStore`. */
  readonly specs: (runStore: string) => readonly FunctionSpec[];
  readonly artifactSha256: Readonly<Record<string, string>>;
  /** What `serverless deploy` needs in its environment besides the credentials. */
  readonly pluginEnv: (runStore: string) => Readonly<Record<string, string>>;
  /** api-gateway/openapi.yaml (kept current on a stage that has a gateway). */
  readonly gatewaySpecText?: string | undefined;
  /** `--gateway`: create the gateway when the stage has none. */
  readonly gateway?: boolean | undefined;
  /** Key options of this run (mint, revoke); `settings.apiKeys` is a given list. */
  readonly apiKeys?: Omit<ApiKeysPlan, 'given'> | undefined;
  /** Called once a minted key's entry is stored: the only time the key is shown. */
  readonly onKeyMinted?: ((key: MintedKey) => void) | undefined;
}

/** An input problem found only once the stage's record was read; nothing was changed. */
export class DeployInputError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'DeployInputError';
    this.problems = problems;
  }
}

export interface DeployReport {
  readonly functions: readonly DeployedFunction[];
  readonly runStore: string;
  readonly queues: StageQueues;
  readonly gatewayDomain?: string | undefined;
  readonly warnings: readonly string[];
}

/** Triggers still missing or wrong after the repair rounds: the stage is not healthy. */
export class TriggersNotReady extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`triggers are not all in place: ${problems.join('; ')}`);
    this.name = 'TriggersNotReady';
    this.problems = problems;
  }
}

export function accountRoles(settings: DeploySettings): AccountRole[] {
  const needSender = settings.notifyQueueUrl !== undefined && settings.notifyQueueKeys === undefined;
  return ['functions', 'invoker', 'queues', ...(needSender ? (['sender'] as const) : [])];
}

function required(ids: AccountIds, role: AccountRole): string {
  const id = ids[role];
  if (id === undefined) throw new Error(`service account for ${role} is missing`);
  return id;
}

/** The stage's `deploy` secret as it is now (undefined: not made yet). */
export async function readDeploySecret(ctx: DeployContext): Promise<SecretVersion | undefined> {
  const found = await findSecret(ctx, ctx.names.secrets.deploy);
  return found === undefined ? undefined : await readSecret(ctx, found);
}

/** The stage's API key entries as recorded (undefined: never recorded). */
export const recordedKeys = (deploySecret: SecretVersion | undefined): string[] | undefined =>
  decodeRecord(deploySecret?.entries[API_KEYS_RECORD_ENTRY]);

/**
 * The admin key the deploy signs Message Queue calls with, and the API key record, kept in the
 * stage's `deploy` secret (read by the deploy only).
 */
export async function ensureQueueAdminKey(
  ctx: DeployContext,
  queuesAccountId: string,
  stored: SecretVersion | undefined,
  record: Readonly<Record<string, string>> = {},
): Promise<{ keys: StaticKeys; fresh: boolean }> {
  const name = ctx.names.secrets.deploy;
  const key = await ensureStaticKey(
    ctx,
    queuesAccountId,
    ctx.names.accounts.queues,
    stored?.entries ?? {},
    ADMIN_KEY_ENTRIES,
  );
  await putSecret(
    ctx,
    name,
    {
      [ADMIN_KEY_ENTRIES.id]: key.keys.accessKeyId,
      [ADMIN_KEY_ENTRIES.secret]: key.keys.secretAccessKey,
      ...record,
    },
    stored,
  );
  return key;
}

/** The runtime secret with what check needs; undefined when nothing is needed and none exists. */
async function ensureRuntimeSecret(
  ctx: DeployContext,
  settings: DeploySettings,
  ids: AccountIds,
): Promise<{ version: SecretVersion; wanted: Record<string, string> } | undefined> {
  const name = ctx.names.secrets.runtime;
  const found = await findSecret(ctx, name);
  const stored = found === undefined ? undefined : await readSecret(ctx, found);
  const wanted: Record<string, string> = {};
  if (settings.webhookUrl !== undefined) {
    const secret = settings.webhookSecret ?? stored?.entries[SECRET_VARIABLES.NOTIFY_WEBHOOK_SECRET];
    if (secret !== undefined) wanted[SECRET_VARIABLES.NOTIFY_WEBHOOK_SECRET] = secret;
    else ctx.log('NOTIFY_WEBHOOK_URL has no NOTIFY_WEBHOOK_SECRET: reports go out without the secret header');
  }
  if (settings.notifyQueueUrl !== undefined) {
    const keys =
      settings.notifyQueueKeys ??
      (
        await ensureStaticKey(
          ctx,
          required(ids, 'sender'),
          ctx.names.accounts.sender,
          stored?.entries ?? {},
          SENDER_KEY_ENTRIES,
        )
      ).keys;
    wanted[SENDER_KEY_ENTRIES.id] = keys.accessKeyId;
    wanted[SENDER_KEY_ENTRIES.secret] = keys.secretAccessKey;
  }
  if (Object.keys(wanted).length === 0 && stored === undefined) return undefined;
  const version = await putSecret(ctx, name, wanted, stored);
  const added = await addBindings(
    ctx.http,
    secretBindings(ctx.endpoints, version.secretId, name),
    [{ roleId: PAYLOAD_VIEWER, subject: serviceAccount(required(ids, 'functions')) }],
    ctx.wait,
  );
  if (added.length > 0) ctx.log(`granted ${PAYLOAD_VIEWER} on ${name} to ${ctx.names.accounts.functions}`);
  return { version, wanted };
}

/**
 * What each function should be (for the deploy and for the verification). Each of the three serves
 * a gateway route, so each gets the stage's API keys.
 */
export function wantedFunctions(
  ctx: DeployContext,
  plan: StagePlan,
  runStore: string,
  functionsAccountId: string,
  runtime: { version: SecretVersion; wanted: Record<string, string> } | undefined,
  apiKeys: readonly string[],
): WantedFunction[] {
  return plan.specs(runStore).map((spec) => {
    const variables = new Set<string>(referencedSecrets(spec.key, plan.settings));
    const refs = secretReferences(
      spec.key,
      runtime === undefined ? undefined : { ...runtime.version, entries: runtime.wanted },
    ).filter((r) => variables.has(r.environmentVariable));
    return {
      spec,
      name: ctx.names.functions[spec.key],
      artifactSha256: plan.artifactSha256[spec.key] ?? '',
      serviceAccountId: functionsAccountId,
      secrets: refs,
      managedEnvironment: apiKeysVariable(apiKeys),
    };
  });
}

/** The stage's key list after this run, checked against the record and the 4 KB environment. */
function stageKeys(
  plan: StagePlan,
  deploySecret: SecretVersion | undefined,
): { lines: readonly string[]; minted: MintedKey | undefined; record: Record<string, string> } {
  const stored = recordedKeys(deploySecret);
  const resolved = resolveKeys(stored, {
    given: plan.settings.apiKeys,
    mint: plan.apiKeys?.mint,
    revoke: plan.apiKeys?.revoke ?? [],
  });
  const problems = [...resolved.problems];
  const managed = apiKeysVariable(resolved.lines);
  for (const spec of plan.specs(PENDING_RUN_STORE)) {
    const bytes = environmentBytes({ ...spec.environment, ...managed });
    if (bytes > ENVIRONMENT_LIMIT_BYTES) {
      problems.push(
        `functions.${spec.key}.environment with ${resolved.lines.length} API keys: about ${bytes} bytes, over the platform's ${ENVIRONMENT_LIMIT_BYTES} (revoke keys, or share one key among callers of the same projects)`,
      );
    }
  }
  if (problems.length > 0) throw new DeployInputError(problems);
  const encoded = encodeRecord(resolved.lines);
  // A stage that never had keys gets no record entry (older deploy secrets stay as they are).
  const record =
    stored === undefined && resolved.lines.length === 0 ? {} : { [API_KEYS_RECORD_ENTRY]: encoded };
  return { lines: resolved.lines, minted: resolved.minted, record };
}

export async function deployStage(ctx: DeployContext, plan: StagePlan): Promise<DeployReport> {
  const { settings } = plan;
  const warnings: string[] = [];
  const deploySecret = await readDeploySecret(ctx);
  const keys = stageKeys(plan, deploySecret);
  const ids = await ensureServiceAccounts(ctx, accountRoles(settings));
  const functionsId = required(ids, 'functions');
  if (settings.projects === '*') {
    const warning =
      `ALLOWED_PROJECTS is *: the deploy cannot know which DataSphere projects to join. Add ` +
      `${ctx.names.accounts.functions} to each project the runner will use, e.g. (a project admin runs): ` +
      adminCommand(
        ctx.endpoints.datasphere,
        '<project-id>',
        projectBinding(settings.projectRole, functionsId),
      );
    warnings.push(warning);
    ctx.log(warning);
  } else {
    await ensureProjectAccess(ctx, settings.projects, settings.projectRole, functionsId);
  }
  await ensureFolderRoles(ctx, ids, { metrics: settings.metrics });
  const endpoint = settings.runStore?.slice('docapi:'.length) ?? (await ensureDatabase(ctx));
  await ctx.tables.ensure(endpoint, settings.table);
  const runStore = `docapi:${endpoint}`;
  const adminKey = await ensureQueueAdminKey(ctx, required(ids, 'queues'), deploySecret, keys.record);
  if (keys.minted !== undefined) plan.onKeyMinted?.(keys.minted);
  const queues = await ensureQueues(ctx, ctx.ymq(adminKey.keys, adminKey.fresh), settings.queues);
  const runtime = await ensureRuntimeSecret(ctx, settings, ids);
  const wanted = wantedFunctions(ctx, plan, runStore, functionsId, runtime, keys.lines);
  const functions = await ensureFunctions(ctx, wanted, plan.pluginEnv(runStore));
  const invokerId = required(ids, 'invoker');
  await ensureInvokers(ctx, functions, invokerId);
  const left = await ensureTriggers(
    ctx,
    triggerSpecs(ctx, { functions, invokerId, runsArn: queues.arns.runs, cancelsArn: queues.arns.cancels }),
  );
  if (left.length > 0) throw new TriggersNotReady(left);
  let gatewayDomain: string | undefined;
  if (plan.gatewaySpecText !== undefined) {
    const gateway = await ensureGateway(
      ctx,
      gatewaySpec(plan.gatewaySpecText, functions, invokerId),
      plan.gateway === true,
    );
    gatewayDomain = gateway?.domain;
  }
  return { functions, runStore, queues, gatewayDomain, warnings };
}

/** The ids of the stage's accounts that exist (read only). */
export async function existingAccounts(ctx: DeployContext): Promise<AccountIds> {
  const accounts = await listServiceAccounts(ctx);
  const ids: AccountIds = {};
  for (const [role, name] of Object.entries(ctx.names.accounts)) {
    const found = accounts.find((a) => a.name === name);
    if (found !== undefined) ids[role as AccountRole] = found.id;
  }
  return ids;
}
