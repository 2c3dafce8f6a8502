/**
 * Everything checked before the cloud is touched, reported all at once: the deploy's own settings,
 * serverless.yaml's variables, each function's environment through the functions' own
 * configuration loader (as it will run, secrets included as references), the artifacts. Then one
 * cheap read (`GET /resource-manager/v1/folders/{id}`) proves the token and the folder.
 */
import type { StaticKeys } from '../shared/config.ts';
import { loadConfig } from '../shared/config.ts';
import { isRunnerError } from '../shared/errors.ts';
import { type CloudHttp, isNotFound, isPermissionDenied, isUnauthenticated } from './cloud-http.ts';
import { DEFAULT_PROJECT_ROLE, PROJECT_ROLES } from './ensure-project-access.ts';
import type { QueueSettings } from './ensure-queues.ts';
import { SECRETS_OF, type SecretVariable } from './function-secrets.ts';
import type { FunctionSpec } from './serverless-config.ts';
import { apiKeysProblems, entryLines } from './stage-api-keys.ts';
import type { ZipEntry } from './zip-entries.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** Bigger zips go through an Object Storage bucket and need static keys (platform.md §9, trap 9). */
export const DIRECT_UPLOAD_LIMIT_BYTES = 3.5 * 1024 * 1024;
/** Total size of a version's environment, names included, Lockbox values counted (platform.md §5). */
export const ENVIRONMENT_LIMIT_BYTES = 4096;
/** The one file each artifact must hold, at the zip root (entry point `index.handler`). */
export const BUNDLE_ENTRY = 'index.js';
/** Stands for the deploy's folder in METRICS_FOLDER_ID before the credentials are known. */
export const PENDING_FOLDER_ID = 'b1gpendingfolder0000';
/** Stands for the Document API endpoint of a database the deploy has not created yet. */
export const PENDING_RUN_STORE =
  'docapi:https://docapi.serverless.yandexcloud.net/ru-central1/pending/pending';

export interface DeploySettings {
  readonly projects: readonly string[] | '*';
  readonly projectRole: string;
  /** `docapi:<endpoint>` given by RUN_STORE; absent = the stage's own database. */
  readonly runStore: string | undefined;
  readonly table: string;
  readonly webhookUrl: string | undefined;
  /** From NOTIFY_WEBHOOK_SECRET; absent = keep what Lockbox holds. */
  readonly webhookSecret: string | undefined;
  readonly notifyQueueUrl: string | undefined;
  /** Given keys for NOTIFY_QUEUE_URL; absent = the stage's `sender` account gets a key. */
  readonly notifyQueueKeys: StaticKeys | undefined;
  readonly queues: QueueSettings;
  /** The sweep writes metrics to the deploy's folder (METRICS, default on). */
  readonly metrics: boolean;
  /** A Monitoring notification channel for the example alerts (MONITORING_CHANNEL_ID). */
  readonly monitoringChannelId: string | undefined;
  /** The stage's API keys as given in API_KEYS (absent = the deploy keeps its record). */
  readonly apiKeys: readonly string[] | undefined;
}

const text = (env: Env, name: string): string | undefined => {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
};

/** The deploy's settings from the environment, and every problem with them. */
export function readDeploySettings(
  env: Env,
  specs: readonly FunctionSpec[],
): { settings: DeploySettings; problems: string[] } {
  const problems: string[] = [];
  const rawProjects = text(env, 'ALLOWED_PROJECTS');
  let projects: readonly string[] | '*' = [];
  if (rawProjects === undefined) {
    problems.push('ALLOWED_PROJECTS: required (comma-separated DataSphere project ids the runner may start)');
  } else if (rawProjects === '*') {
    projects = '*';
  } else {
    projects = rawProjects
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
  }
  const projectRole = text(env, 'DATASPHERE_PROJECT_ROLE') ?? DEFAULT_PROJECT_ROLE;
  if (!(PROJECT_ROLES as readonly string[]).includes(projectRole)) {
    problems.push(`DATASPHERE_PROJECT_ROLE: "${projectRole}" must be one of ${PROJECT_ROLES.join(', ')}`);
  }
  const runStore = text(env, 'RUN_STORE');
  if (runStore !== undefined && !runStore.startsWith('docapi:')) {
    problems.push(
      `RUN_STORE: "${runStore}" must be docapi:<Document API endpoint> (or unset: the stage gets its own database)`,
    );
  }
  const keyId = text(env, 'NOTIFY_QUEUE_ACCESS_KEY_ID');
  const keySecret = text(env, 'NOTIFY_QUEUE_SECRET_ACCESS_KEY');
  if ((keyId === undefined) !== (keySecret === undefined)) {
    problems.push('NOTIFY_QUEUE_ACCESS_KEY_ID and NOTIFY_QUEUE_SECRET_ACCESS_KEY: set both or neither');
  }
  const rawCount = text(env, 'QUEUE_MAX_RECEIVE_COUNT') ?? '5';
  const maxReceiveCount = Number(rawCount);
  if (!/^\d+$/.test(rawCount) || maxReceiveCount < 1 || maxReceiveCount > 1000) {
    problems.push(`QUEUE_MAX_RECEIVE_COUNT: "${rawCount}" must be a whole number 1..1000`);
  }
  const rawMetrics = (text(env, 'METRICS') ?? 'on').toLowerCase();
  if (!['on', 'off'].includes(rawMetrics)) problems.push(`METRICS: "${rawMetrics}" must be on or off`);
  if (text(env, 'METRICS_FOLDER_ID') !== undefined) {
    problems.push(
      'METRICS_FOLDER_ID: the deploy sets it to its own folder (where it grants monitoring.editor); unset it (METRICS=off turns metrics off)',
    );
  }
  const monitoringChannelId = text(env, 'MONITORING_CHANNEL_ID');
  if (monitoringChannelId !== undefined && !/^[A-Za-z0-9_-]{1,50}$/.test(monitoringChannelId)) {
    problems.push(`MONITORING_CHANNEL_ID: "${monitoringChannelId}" is not a notification channel id`);
  }
  const rawKeys = text(env, 'API_KEYS');
  if (rawKeys !== undefined) problems.push(...apiKeysProblems(rawKeys));
  // Above the function's timeout plus the trigger's batch cutoff, so a message is not handed out
  // again while its first delivery may still be running.
  const timeoutOf = (key: string): number => specs.find((s) => s.key === key)?.timeoutSeconds ?? 60;
  const settings: DeploySettings = {
    projects,
    projectRole,
    runStore,
    table: text(env, 'RUN_STORE_TABLE') ?? 'datasphere_runs',
    webhookUrl: text(env, 'NOTIFY_WEBHOOK_URL'),
    webhookSecret: text(env, 'NOTIFY_WEBHOOK_SECRET'),
    notifyQueueUrl: text(env, 'NOTIFY_QUEUE_URL'),
    notifyQueueKeys:
      keyId !== undefined && keySecret !== undefined
        ? { accessKeyId: keyId, secretAccessKey: keySecret }
        : undefined,
    queues: {
      maxReceiveCount,
      visibilityTimeout: { runs: 2 * timeoutOf('execute') + 10, cancels: 2 * timeoutOf('cancel') + 10 },
    },
    metrics: rawMetrics !== 'off',
    monitoringChannelId,
    apiKeys: rawKeys === undefined ? undefined : entryLines(rawKeys),
  };
  return { settings, problems };
}

/** The secret variables a function will receive as Lockbox references, given the settings. */
export function referencedSecrets(key: FunctionSpec['key'], settings: DeploySettings): SecretVariable[] {
  return SECRETS_OF[key].filter((variable) =>
    variable === 'NOTIFY_WEBHOOK_SECRET'
      ? settings.webhookUrl !== undefined
      : settings.notifyQueueUrl !== undefined,
  );
}

/** Stand-ins for values that only exist once made (safe for the functions' loader). */
const STAND_INS: Readonly<Record<string, string>> = {
  RUN_STORE: PENDING_RUN_STORE,
  METRICS_FOLDER_ID: PENDING_FOLDER_ID,
  NOTIFY_QUEUE_ACCESS_KEY_ID: 'stand-in',
  NOTIFY_QUEUE_SECRET_ACCESS_KEY: 'stand-in',
};

/**
 * Every problem the functions' own configuration loader finds in `environment`, not only the first:
 * a variable it refuses is taken out (or replaced by a safe stand-in) and the loader runs again.
 */
export function configProblems(environment: Readonly<Record<string, string>>): string[] {
  const work: Record<string, string | undefined> = { ...environment, _HANDLER: 'index.handler' };
  const problems: string[] = [];
  const seen = new Set<string>();
  for (let attempt = 0; attempt < 50; attempt += 1) {
    try {
      loadConfig(work, { cwd: '/function/code' });
      return problems;
    } catch (error) {
      if (!isRunnerError(error)) throw error;
      const setting = (error as { setting?: unknown }).setting;
      if (typeof setting !== 'string' || (seen.has(setting) && work[setting] === STAND_INS[setting])) {
        problems.push(error.message);
        return problems;
      }
      if (!seen.has(setting)) problems.push(error.message);
      work[setting] = seen.has(setting) ? STAND_INS[setting] : undefined;
      seen.add(setting);
    }
  }
  return problems;
}

/**
 * Problems of one function's environment as it will run: size and the functions' own validation.
 * @param managed the variables the deploy adds to its own version (API_KEYS), counted in the size
 *   (their content is checked on its own, every entry at once: apiKeysProblems)
 */
export function checkFunctionEnvironment(
  spec: FunctionSpec,
  settings: DeploySettings,
  managed: Readonly<Record<string, string>> = {},
): string[] {
  const where = `functions.${spec.key}.environment`;
  const asDeployed: Record<string, string> = { ...spec.environment };
  for (const variable of referencedSecrets(spec.key, settings)) {
    // The value comes from Lockbox at start; it still counts toward the 4 KB (platform.md §5).
    asDeployed[variable] =
      variable === 'NOTIFY_WEBHOOK_SECRET'
        ? (settings.webhookSecret ?? 'stand-in')
        : (STAND_INS[variable] ?? 'x');
  }
  const problems: string[] = [];
  const bytes = environmentBytes({ ...asDeployed, ...managed });
  if (bytes > ENVIRONMENT_LIMIT_BYTES) {
    problems.push(
      `${where}: ${bytes} bytes of names and values, over the platform's ${ENVIRONMENT_LIMIT_BYTES}`,
    );
  }
  return [...problems, ...configProblems(asDeployed).map((p) => `${where}: ${p}`)];
}

/** Names and values of an environment, in bytes (what the platform's 4 KB limit counts). */
export function environmentBytes(environment: Readonly<Record<string, string>>): number {
  return Object.entries(environment).reduce(
    (sum, [n, v]) => sum + Buffer.byteLength(n) + Buffer.byteLength(v),
    0,
  );
}

/**
 * Problems with one function's artifact: it must hold `index.js` at its root and nothing else
 * (no package.json, which would make the platform run `npm ci`; no node_modules; no source maps).
 */
export function checkArtifact(path: string, zipSize: number, entries: readonly ZipEntry[]): string[] {
  const problems: string[] = [];
  const names = entries.map((e) => e.name).filter((name) => !name.endsWith('/'));
  if (!names.includes(BUNDLE_ENTRY)) {
    problems.push(`${path}: has no ${BUNDLE_ENTRY} at its root (the entry point is index.handler)`);
  }
  for (const name of names) {
    if (name === BUNDLE_ENTRY) continue;
    if (name === 'package.json' || name.endsWith('/package.json')) {
      problems.push(`${path}: holds ${name}; the platform would run npm ci while building the version`);
    } else if (name.startsWith('node_modules/') || name.includes('/node_modules/')) {
      problems.push(`${path}: holds ${name}; the bundle must be self-contained`);
    } else {
      problems.push(`${path}: holds ${name}; only ${BUNDLE_ENTRY} belongs in a function's artifact`);
    }
  }
  if (zipSize >= DIRECT_UPLOAD_LIMIT_BYTES) {
    problems.push(
      `${path}: ${zipSize} bytes is over the 3.5 MB direct-upload limit; the plugin would need a bucket and static keys`,
    );
  }
  return problems;
}

/**
 * The one cheap read: the folder. Proves the token works and the folder exists and is visible.
 * @returns the folder's name, or a problem in words.
 */
export async function checkFolder(
  http: CloudHttp,
  resourceManager: string,
  folderId: string,
): Promise<{ name: string } | { problem: string }> {
  try {
    const folder = await http.call(
      'GET',
      `${resourceManager}/resource-manager/v1/folders/${encodeURIComponent(folderId)}`,
    );
    return { name: typeof folder.name === 'string' ? folder.name : folderId };
  } catch (error) {
    if (isUnauthenticated(error))
      return { problem: 'the token was refused (expired or wrong): run `yc iam create-token`, or `yc init`' };
    if (isPermissionDenied(error) || isNotFound(error)) {
      return {
        problem: `folder ${folderId}: not found, or you have no access to it (check YC_FOLDER_ID / yc config get folder-id)`,
      };
    }
    return {
      problem: `reading folder ${folderId} failed: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}
