/**
 * Reads everything a stage should have and lists every way it differs (`[]` = healthy). Read only:
 * `--verify-only` runs just this, and every deploy ends with it. It checks what the old verification
 * could not: DataSphere project membership, the secrets as Lockbox references, the queues' redrive
 * policy, the table, the invoker role on each function; and, since the metrics and the
 * authenticated gateway: monitoring.editor on the folder, METRICS_FOLDER_ID of the check function
 * (every variable's value, in fact), the stage's API keys on each function, and a gateway that
 * exists: its spec current and requiring credentials, and, asked as an anonymous caller, refusing
 * `GET /runs` (deploy/gateway-probe.ts).
 */

import {
  folderBindings,
  functionBindings,
  listBindings,
  missingBindings,
  secretBindings,
  serviceAccount,
} from './access-bindings.ts';
import type { DeployContext } from './deploy-context.ts';
import {
  ADMIN_KEY_ENTRIES,
  accountRoles,
  existingAccounts,
  PAYLOAD_VIEWER,
  recordedKeys,
  type StagePlan,
  wantedFunctions,
} from './deploy-stage.ts';
import { folderRoles } from './ensure-accounts.ts';
import { findDatabase } from './ensure-database.ts';
import { functionProblems, INVOKER_ROLE, listFunctions } from './ensure-functions.ts';
import { findGateway, gatewaySpec, SPEC_LABEL, specHash } from './ensure-gateway.ts';
import { projectsLackingAccess } from './ensure-project-access.ts';
import { queueProblems } from './ensure-queues.ts';
import { listTriggers, triggerProblems, triggerSpecs } from './ensure-triggers.ts';
import { SECRET_VARIABLES } from './function-secrets.ts';
import { probeGateway } from './gateway-probe.ts';
import { gatewaySecurityProblems } from './gateway-spec.ts';
import { findSecret, readSecret } from './lockbox-secrets.ts';
import type { AccountRole } from './stage-names.ts';

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export async function verifyStage(ctx: DeployContext, plan: StagePlan): Promise<string[]> {
  const { settings, names } = { settings: plan.settings, names: ctx.names };
  const problems: string[] = [];
  const ids = await existingAccounts(ctx);
  for (const role of accountRoles(settings)) {
    if (ids[role] === undefined) problems.push(`service account ${names.accounts[role]}: missing`);
  }
  const folder = await listBindings(ctx.http, folderBindings(ctx.endpoints, ctx.folderId));
  for (const [role, id] of Object.entries(ids)) {
    const wanted = folderRoles(role as AccountRole, { metrics: settings.metrics }).map((roleId) => ({
      roleId,
      subject: serviceAccount(id),
    }));
    for (const m of missingBindings(folder, wanted))
      problems.push(
        `service account ${names.accounts[role as AccountRole]}: lacks ${m.roleId} on the folder`,
      );
  }
  if (ids.functions !== undefined && settings.projects !== '*') {
    problems.push(
      ...(await projectsLackingAccess(ctx, settings.projects, settings.projectRole, ids.functions)),
    );
  }

  let endpoint = settings.runStore?.slice('docapi:'.length);
  if (endpoint === undefined) {
    const database = await findDatabase(ctx);
    if (database === undefined) problems.push(`database ${names.database}: missing`);
    else if (database.status !== 'RUNNING' || !database.documentApiEndpoint)
      problems.push(`database ${names.database}: ${database.status ?? 'no status'}`);
    else endpoint = database.documentApiEndpoint;
  }
  if (endpoint !== undefined) {
    const table = await ctx.tables.check(endpoint, settings.table).catch((e: unknown) => message(e));
    if (table !== 'ACTIVE')
      problems.push(`table ${settings.table}: ${table === 'MISSING' ? 'missing' : table}`);
  }

  let arns: { runs?: string; cancels?: string } = {};
  let apiKeys: readonly string[] = settings.apiKeys ?? [];
  const deploySecret = await findSecret(ctx, names.secrets.deploy);
  if (deploySecret === undefined) {
    problems.push(
      `Lockbox secret ${names.secrets.deploy}: missing (it holds the key the deploy manages the queues with)`,
    );
  } else {
    const stored = await readSecret(ctx, deploySecret);
    try {
      apiKeys = settings.apiKeys ?? recordedKeys(stored) ?? [];
    } catch (error) {
      problems.push(`Lockbox secret ${names.secrets.deploy}: ${message(error)}`);
    }
    const accessKeyId = stored.entries[ADMIN_KEY_ENTRIES.id];
    const secretAccessKey = stored.entries[ADMIN_KEY_ENTRIES.secret];
    if (accessKeyId === undefined || secretAccessKey === undefined)
      problems.push(`Lockbox secret ${names.secrets.deploy}: holds no queue key`);
    else {
      try {
        const queues = await queueProblems(
          ctx,
          ctx.ymq({ accessKeyId, secretAccessKey }, false),
          settings.queues,
        );
        problems.push(...queues.problems);
        arns = queues.arns;
      } catch (error) {
        problems.push(`queues: cannot be read (${message(error)})`);
      }
    }
  }

  const runtimeSecret = await findSecret(ctx, names.secrets.runtime);
  const runtime = runtimeSecret === undefined ? undefined : await readSecret(ctx, runtimeSecret);
  const wantedEntries: Record<string, string> = {};
  if (settings.webhookUrl !== undefined) {
    const stored = runtime?.entries[SECRET_VARIABLES.NOTIFY_WEBHOOK_SECRET];
    if (settings.webhookSecret !== undefined && stored !== settings.webhookSecret) {
      problems.push(
        `Lockbox secret ${names.secrets.runtime}: ${SECRET_VARIABLES.NOTIFY_WEBHOOK_SECRET} is not the NOTIFY_WEBHOOK_SECRET given`,
      );
    }
    if (stored !== undefined) wantedEntries[SECRET_VARIABLES.NOTIFY_WEBHOOK_SECRET] = stored;
  }
  if (settings.notifyQueueUrl !== undefined) {
    for (const key of [
      SECRET_VARIABLES.NOTIFY_QUEUE_ACCESS_KEY_ID,
      SECRET_VARIABLES.NOTIFY_QUEUE_SECRET_ACCESS_KEY,
    ]) {
      const stored = runtime?.entries[key];
      if (stored === undefined)
        problems.push(`Lockbox secret ${names.secrets.runtime}: lacks ${key} (needed by NOTIFY_QUEUE_URL)`);
      else wantedEntries[key] = stored;
    }
  }
  if (runtime !== undefined && ids.functions !== undefined) {
    const bindings = await listBindings(
      ctx.http,
      secretBindings(ctx.endpoints, runtime.secretId, names.secrets.runtime),
    );
    if (
      missingBindings(bindings, [{ roleId: PAYLOAD_VIEWER, subject: serviceAccount(ids.functions) }]).length >
      0
    ) {
      problems.push(
        `Lockbox secret ${names.secrets.runtime}: ${names.accounts.functions} lacks ${PAYLOAD_VIEWER}`,
      );
    }
  }

  if (ids.functions !== undefined && endpoint !== undefined) {
    const wanted = wantedFunctions(
      ctx,
      plan,
      `docapi:${endpoint}`,
      ids.functions,
      runtime === undefined ? undefined : { version: runtime, wanted: wantedEntries },
      apiKeys,
    );
    problems.push(...(await functionProblems(ctx, wanted)));
  }
  const functions = (await listFunctions(ctx)).filter((f) => Object.values(names.functions).includes(f.name));
  const deployed = Object.entries(names.functions).flatMap(([key, name]) => {
    const found = functions.find((f) => f.name === name);
    return found === undefined ? [] : [{ key: key as 'execute', id: found.id, name, versionId: '' }];
  });
  if (ids.invoker !== undefined) {
    for (const fn of deployed) {
      const bindings = await listBindings(ctx.http, functionBindings(ctx.endpoints, fn.id, fn.name));
      if (
        missingBindings(bindings, [{ roleId: INVOKER_ROLE, subject: serviceAccount(ids.invoker) }]).length > 0
      ) {
        problems.push(`function ${fn.name}: ${names.accounts.invoker} lacks ${INVOKER_ROLE}`);
      }
    }
  }
  if (
    ids.invoker !== undefined &&
    deployed.length === 3 &&
    arns.runs !== undefined &&
    arns.cancels !== undefined
  ) {
    const triggers = await listTriggers(ctx);
    const specs = triggerSpecs(ctx, {
      functions: deployed,
      invokerId: ids.invoker,
      runsArn: arns.runs,
      cancelsArn: arns.cancels,
    });
    for (const spec of specs)
      problems.push(
        ...triggerProblems(
          spec,
          triggers.find((t) => t.name === spec.name),
        ),
      );
  } else {
    const triggers = await listTriggers(ctx);
    for (const name of Object.values(names.triggers)) {
      if (!triggers.some((t) => t.name === name)) problems.push(`trigger ${name}: missing`);
    }
  }
  const gateway = await findGateway(ctx);
  if (gateway === undefined) {
    if (plan.gateway === true) problems.push(`API gateway ${names.gateway}: missing`);
  } else {
    if (plan.gatewaySpecText !== undefined) {
      problems.push(...gatewaySecurityProblems(plan.gatewaySpecText));
      if (ids.invoker !== undefined && deployed.length === 3) {
        const hash = specHash(gatewaySpec(plan.gatewaySpecText, deployed, ids.invoker));
        if (gateway.labels?.[SPEC_LABEL] !== hash)
          problems.push(`API gateway ${names.gateway}: its spec is not the current one`);
      }
    }
    if (apiKeys.length === 0) {
      ctx.log(
        `note: the stage has no API keys: the gateway accepts IAM tokens only (npm run deploy -- --api-key <name> --projects <ids> mints one)`,
      );
    } else {
      ctx.log(`API keys on each function: ${apiKeys.map((line) => line.split(':')[0]).join(', ')}`);
    }
    if (gateway.domain === undefined || gateway.domain === '') {
      problems.push(`API gateway ${names.gateway}: has no domain`);
    } else {
      const probe = await probeGateway(ctx, gateway.domain);
      problems.push(...probe.problems);
      for (const note of probe.notes) ctx.log(note);
    }
  }
  return problems;
}
