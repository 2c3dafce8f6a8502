/**
 * The functions' versions. The Serverless plugin uploads the code (a version that runs as no
 * account, so it can do nothing); the deploy then creates, from that version, the one that runs:
 * the same code and settings, the stage's functions account, and the Lockbox `secrets[]`
 * references (Functions API `POST /functions/v1/versions` with `versionId` as the source).
 *
 * Each deploy-made version carries in its description two fingerprints: `code` (artifact bytes,
 * runtime, entry point, memory, timeout, serverless.yaml's environment) and `full` (code plus
 * account, secret references and the variables only the deploy sets: API_KEYS). Unchanged `full`: nothing is done. Unchanged `code`: only a new version is made from
 * the current one (e.g. a rotated secret), without the plugin. Otherwise the plugin runs, once.
 */
import { createHash } from 'node:crypto';
import { addBindings, functionBindings, serviceAccount } from './access-bindings.ts';
import { CloudApiError, isNotFound, waitForOperation } from './cloud-http.ts';
import type { DeployContext } from './deploy-context.ts';
import type { SecretReference } from './function-secrets.ts';
import { listInFolder } from './list-all.ts';
import type { FunctionSpec } from './serverless-config.ts';
import type { FunctionKey } from './stage-names.ts';

export const INVOKER_ROLE = 'serverless.functions.invoker';
const MB = 1024 * 1024;

export interface CloudFunction {
  readonly id: string;
  readonly name: string;
  readonly status?: string;
  readonly httpInvokeUrl?: string;
}

export interface CloudVersion {
  readonly id: string;
  readonly functionId: string;
  readonly description?: string;
  readonly createdAt?: string;
  readonly runtime?: string;
  readonly entrypoint?: string;
  readonly resources?: { readonly memory?: string | number };
  readonly executionTimeout?: string;
  readonly serviceAccountId?: string;
  readonly status?: string;
  readonly tags?: readonly string[];
  readonly environment?: Readonly<Record<string, string>>;
  readonly secrets?: readonly Partial<SecretReference>[];
}

export interface WantedFunction {
  readonly spec: FunctionSpec;
  readonly name: string;
  /** sha256 of the artifact zip (build.mjs writes deterministic zips). */
  readonly artifactSha256: string;
  readonly serviceAccountId: string;
  readonly secrets: readonly SecretReference[];
  /**
   * Plain variables the deploy adds to its own version, beside serverless.yaml's (API_KEYS): they
   * change without the plugin, so they are in the `full` fingerprint, not in `code`.
   */
  readonly managedEnvironment: Readonly<Record<string, string>>;
}

/** The whole environment of the version the deploy makes. */
export const versionEnvironment = (w: WantedFunction): Record<string, string> => ({
  ...w.spec.environment,
  ...w.managedEnvironment,
});

export interface Fingerprints {
  readonly code: string;
  readonly full: string;
}

const sha = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);
const sorted = (record: Readonly<Record<string, string>>): [string, string][] =>
  Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

export function fingerprints(wanted: WantedFunction): Fingerprints {
  const { spec } = wanted;
  const code = sha(
    JSON.stringify([
      wanted.artifactSha256,
      spec.runtime,
      spec.entrypoint,
      spec.memoryMb,
      spec.timeoutSeconds,
      sorted(spec.environment),
    ]),
  );
  const secrets = [...wanted.secrets]
    .map((s) => [s.environmentVariable, s.id, s.versionId, s.key])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  const managed = sorted(wanted.managedEnvironment);
  // Without managed variables the fingerprint is the one earlier deploys wrote (no needless version).
  const full =
    managed.length === 0
      ? sha(JSON.stringify([code, wanted.serviceAccountId, secrets]))
      : sha(JSON.stringify([code, wanted.serviceAccountId, secrets, managed]));
  return { code, full };
}

export function describeFingerprints(f: Fingerprints): string {
  return `datasphere-runner deploy code=${f.code} full=${f.full}`;
}

export function parseFingerprints(description: string | undefined): Partial<Fingerprints> {
  const code = /\bcode=([0-9a-f]{16})\b/.exec(description ?? '')?.[1];
  const full = /\bfull=([0-9a-f]{16})\b/.exec(description ?? '')?.[1];
  return { ...(code === undefined ? {} : { code }), ...(full === undefined ? {} : { full }) };
}

export async function listFunctions(ctx: DeployContext): Promise<CloudFunction[]> {
  return listInFolder<CloudFunction>(ctx, `${ctx.endpoints.functions}/functions/v1/functions`, 'functions');
}

/** The version tagged `$latest` (`GET /functions/v1/versions:byTag`), or undefined. */
export async function latestVersion(
  ctx: DeployContext,
  functionId: string,
): Promise<CloudVersion | undefined> {
  try {
    const url = `${ctx.endpoints.functions}/functions/v1/versions:byTag?functionId=${encodeURIComponent(functionId)}&tag=%24latest`;
    return (await ctx.http.call('GET', url)) as unknown as CloudVersion;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

interface Observed {
  readonly fn: CloudFunction | undefined;
  readonly latest: CloudVersion | undefined;
}

async function observe(ctx: DeployContext, wanted: readonly WantedFunction[]): Promise<Observed[]> {
  const functions = await listFunctions(ctx);
  const observed: Observed[] = [];
  for (const w of wanted) {
    const fn = functions.find((f) => f.name === w.name);
    observed.push({ fn, latest: fn === undefined ? undefined : await latestVersion(ctx, fn.id) });
  }
  return observed;
}

export interface DeployedFunction {
  readonly key: FunctionKey;
  readonly name: string;
  readonly id: string;
  readonly versionId: string;
}

/**
 * Brings every function to its wanted version.
 * @param pluginEnv what serverless.yaml's `${env:…}` references need, plus the deployer's credentials
 */
export async function ensureFunctions(
  ctx: DeployContext,
  wanted: readonly WantedFunction[],
  pluginEnv: Readonly<Record<string, string>>,
): Promise<DeployedFunction[]> {
  let observed = await observe(ctx, wanted);
  const prints = wanted.map(fingerprints);
  const stale = wanted.filter((_, i) => {
    const latest = observed[i]?.latest;
    return latest === undefined || parseFingerprints(latest.description).code !== prints[i]?.code;
  });
  if (stale.length > 0) {
    ctx.log(
      `code or settings changed for ${stale.map((w) => w.spec.key).join(', ')}: running the Serverless plugin`,
    );
    const before = observed;
    await ctx.plugin.deploy(ctx.names.stage, pluginEnv);
    observed = await observe(ctx, wanted);
    const failed = wanted.filter((_, i) => {
      const now = observed[i]?.latest;
      return (
        now === undefined ||
        now.id === before[i]?.latest?.id ||
        parseFingerprints(now.description).code !== undefined
      );
    });
    if (failed.length > 0) {
      throw new Error(
        `the Serverless plugin made no new version of ${failed.map((w) => w.name).join(', ')} ` +
          '(it exits 0 after a failure: see its output above)',
      );
    }
  }
  const deployed: DeployedFunction[] = [];
  for (const [i, w] of wanted.entries()) {
    const { fn, latest } = observed[i] ?? { fn: undefined, latest: undefined };
    const print = prints[i];
    if (fn === undefined || latest === undefined || print === undefined)
      throw new Error(`function ${w.name}: missing`);
    if (parseFingerprints(latest.description).full === print.full) {
      deployed.push({ key: w.spec.key, name: w.name, id: fn.id, versionId: latest.id });
      continue;
    }
    const answer = await ctx.http.call('POST', `${ctx.endpoints.functions}/functions/v1/versions`, {
      functionId: fn.id,
      versionId: latest.id,
      description: describeFingerprints(print),
      runtime: w.spec.runtime,
      entrypoint: w.spec.entrypoint,
      resources: { memory: String(w.spec.memoryMb * MB) },
      executionTimeout: `${w.spec.timeoutSeconds}s`,
      serviceAccountId: w.serviceAccountId,
      environment: versionEnvironment(w),
      secrets: w.secrets,
    });
    const version = await waitForOperation(ctx.http, answer, `creating a version of ${w.name}`, ctx.wait);
    const versionId = typeof version.id === 'string' ? version.id : '';
    if (versionId === '')
      throw new CloudApiError(
        'POST',
        `${ctx.endpoints.functions}/functions/v1/versions`,
        200,
        undefined,
        'no version id',
      );
    ctx.log(
      `function ${w.name}: version ${versionId} (${w.secrets.length} secret reference${w.secrets.length === 1 ? '' : 's'})`,
    );
    deployed.push({ key: w.spec.key, name: w.name, id: fn.id, versionId });
  }
  return deployed;
}

/** Lets the invoker account call each function (a per-function role, so it reaches no other stage). */
export async function ensureInvokers(
  ctx: DeployContext,
  functions: readonly DeployedFunction[],
  invokerId: string,
): Promise<void> {
  for (const fn of functions) {
    const added = await addBindings(
      ctx.http,
      functionBindings(ctx.endpoints, fn.id, fn.name),
      [{ roleId: INVOKER_ROLE, subject: serviceAccount(invokerId) }],
      ctx.wait,
    );
    if (added.length > 0) ctx.log(`granted ${INVOKER_ROLE} on ${fn.name} to ${ctx.names.accounts.invoker}`);
  }
}

/** Problems of one function's `$latest` version against what is wanted (read only). */
export function versionProblems(
  w: WantedFunction,
  fn: CloudFunction | undefined,
  latest: CloudVersion | undefined,
): string[] {
  const where = `function ${w.name}`;
  if (fn === undefined) return [`${where}: missing`];
  if (latest === undefined) return [`${where}: has no $latest version`];
  const at = `${where} (version ${latest.id})`;
  const problems: string[] = [];
  if (latest.status !== undefined && latest.status !== 'ACTIVE')
    problems.push(`${at}: status ${latest.status}`);
  if (latest.runtime !== w.spec.runtime)
    problems.push(`${at}: runtime ${latest.runtime ?? '(none)'}, expected ${w.spec.runtime}`);
  if (latest.entrypoint !== w.spec.entrypoint)
    problems.push(`${at}: entrypoint ${latest.entrypoint ?? '(none)'}, expected ${w.spec.entrypoint}`);
  if (Number(latest.resources?.memory) !== w.spec.memoryMb * MB)
    problems.push(`${at}: memory is not ${w.spec.memoryMb} MB`);
  if (latest.executionTimeout !== `${w.spec.timeoutSeconds}s`)
    problems.push(
      `${at}: timeout ${latest.executionTimeout ?? '(none)'}, expected ${w.spec.timeoutSeconds}s`,
    );
  if (latest.serviceAccountId !== w.serviceAccountId) {
    problems.push(
      `${at}: runs as ${latest.serviceAccountId || '(no account)'}, expected ${w.serviceAccountId}`,
    );
  }
  const names = new Set(Object.keys(latest.environment ?? {}));
  const wantedEnvironment = versionEnvironment(w);
  // An empty value is the same as none to the functions (and the API may drop it).
  const absent = Object.entries(wantedEnvironment)
    .filter(([n, v]) => v !== '' && !names.has(n))
    .map(([n]) => n);
  if (absent.length > 0) problems.push(`${at}: environment lacks ${absent.join(', ')}`);
  for (const [name, value] of Object.entries(wantedEnvironment)) {
    const found = latest.environment?.[name] ?? '';
    if (!names.has(name) && value !== '') continue;
    if (found !== value) problems.push(`${at}: ${describeDifference(name, found, value)}`);
  }
  for (const wantedSecret of w.secrets) {
    const found = (latest.secrets ?? []).find(
      (s) => s.environmentVariable === wantedSecret.environmentVariable,
    );
    if (found === undefined)
      problems.push(`${at}: ${wantedSecret.environmentVariable} is not a Lockbox reference`);
    else if (
      found.id !== wantedSecret.id ||
      found.versionId !== wantedSecret.versionId ||
      found.key !== wantedSecret.key
    ) {
      problems.push(`${at}: ${wantedSecret.environmentVariable} refers to another secret version`);
    }
    if (names.has(wantedSecret.environmentVariable))
      problems.push(`${at}: ${wantedSecret.environmentVariable} is a plain variable`);
  }
  if (problems.length === 0 && parseFingerprints(latest.description).full !== fingerprints(w).full) {
    problems.push(`${at}: was not made by this deploy from the current build and settings`);
  }
  return problems;
}

/** A variable's value is not the wanted one, said without dumping long values. */
function describeDifference(name: string, found: string, wanted: string): string {
  if (name === 'API_KEYS') {
    const names = (value: string) =>
      value
        .split(/[;\n]/)
        .map((line) => line.split(':')[0]?.trim())
        .filter((n) => n !== undefined && n !== '')
        .join(', ') || 'none';
    return `API_KEYS is not the stage's key list (it has ${names(found)}; the stage has ${names(wanted)}, or their hashes or projects differ)`;
  }
  const shown = (value: string) =>
    value === '' ? '(empty)' : `"${value.length > 80 ? `${value.slice(0, 77)}...` : value}"`;
  return `${name} is ${shown(found)}, expected ${shown(wanted)}`;
}

/** Reads the functions and their `$latest` versions, and lists every problem. */
export async function functionProblems(
  ctx: DeployContext,
  wanted: readonly WantedFunction[],
): Promise<string[]> {
  const observed = await observe(ctx, wanted);
  return wanted.flatMap((w, i) => versionProblems(w, observed[i]?.fn, observed[i]?.latest));
}
