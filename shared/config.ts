import { ConfigError } from './errors.ts';

/**
 * Configuration, read once per cold start from the environment (design.md §3). Every bad or missing
 * setting throws a ConfigError naming the variable and the expected form; tests pass a plain object.
 */

export type RunStoreSpec =
  | { readonly kind: 'file'; readonly dir: string }
  | { readonly kind: 'docapi'; readonly endpoint: string; readonly table: string };

export interface StaticKeys {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface Config {
  readonly datasphereEndpoint: string;
  readonly operationEndpoint: string;
  readonly runStore: RunStoreSpec;
  /** Static keys for the Document API (SigV4); absent = the IAM token is sent as a bearer. */
  readonly storeKeys: StaticKeys | undefined;
  /** `'*'` = any project; otherwise the allowed project ids. */
  readonly allowedProjects: '*' | ReadonlySet<string>;
  readonly runTimeoutSeconds: number;
  readonly iamToken: string | undefined;
  /** Most Operation.Get calls in flight during one sweep. */
  readonly checkConcurrency: number;
  /**
   * A new run is first checked this long after its start. 0 (the default) = at the first sweep after
   * the start (design.md §6), so an early failure (a wrong notebook path) is known a tick later; a
   * one-hour run then costs ≤ 62 Operation.Get calls. 75 s (one tick plus the due slack) saves the
   * first Get of a fresh operation, which often answers NOT_FOUND anyway.
   */
  readonly checkFirstDelaySeconds: number;
  /** First re-check delay after a check; grows ×checkBackoffFactor up to checkMaxIntervalSeconds. */
  readonly checkIntervalSeconds: number;
  readonly checkMaxIntervalSeconds: number;
  readonly checkBackoffFactor: number;
  /** A run whose next check is due within this many seconds counts as due (timer ticks jitter). */
  readonly checkDueSlackSeconds: number;
  /** Most runs one sweep handles (the rest wait for the next tick). */
  readonly sweepLimit: number;
  /** Operation.Get NOT_FOUND answers tolerated after a start before the run is declared lost. */
  readonly notFoundGraceSeconds: number;
  /** A STARTING claim older than this is re-driven by the sweep (same Idempotency-Key). */
  readonly startRecoverySeconds: number;
  readonly scheduleCatchUpMinutes: number;
  readonly webhook:
    | { readonly url: string; readonly secret: string | undefined; readonly secretHeader: string }
    | undefined;
  readonly queue: { readonly url: string; readonly keys: StaticKeys } | undefined;
  /**
   * Sweep metrics in Yandex Monitoring (custom metrics of `folderId`); absent = metrics off.
   * `endpoint` is the API's base URL (tests point it at a local fake); `timeoutMs` bounds one write.
   */
  readonly metrics: MetricsConfig | undefined;
  readonly logLevel: LogLevelName;
  /** Running inside Yandex Cloud Functions (recognised from the platform's environment). */
  readonly inCloudFunctions: boolean;
}

export interface MetricsConfig {
  readonly folderId: string;
  readonly endpoint: string;
  readonly timeoutMs: number;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

type Env = Readonly<Record<string, string | undefined>>;

function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function httpUrl(env: Env, name: string, fallback?: string): string {
  const value = text(env, name) ?? fallback;
  if (value === undefined) throw new ConfigError(name, 'is required (an http(s) URL)');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(name, `"${value}" is not a URL (expected e.g. https://host/path)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(name, `"${value}" must use http or https`);
  }
  if (url.username || url.password) throw new ConfigError(name, 'must not carry credentials in the URL');
  // Keep the base without a trailing slash so paths join predictably.
  return value.replace(/\/+$/, '');
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `"${raw}" is not a whole number (${min}..${max})`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `${value} is out of range ${min}..${max}`);
  return value;
}

function decimal(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(name, `"${raw}" must be a number in ${min}..${max}`);
  }
  return value;
}

function parseRunStore(env: Env, inCloudFunctions: boolean, cwd: string): RunStoreSpec {
  const raw = text(env, 'RUN_STORE') ?? (inCloudFunctions ? undefined : `file:${cwd}/.runs`);
  if (raw === undefined) {
    throw new ConfigError(
      'RUN_STORE',
      'is required in Cloud Functions: set docapi:<Document API endpoint of a YDB serverless database>',
    );
  }
  if (raw.startsWith('file:')) {
    const dir = raw.slice('file:'.length);
    if (!dir.startsWith('/'))
      throw new ConfigError('RUN_STORE', `file store needs an absolute dir, got "${dir}"`);
    if (inCloudFunctions) {
      throw new ConfigError(
        'RUN_STORE',
        'a file: store is refused in Cloud Functions: instances share no disk, so runs would be lost; use docapi:<endpoint>',
      );
    }
    return { kind: 'file', dir };
  }
  if (raw.startsWith('docapi:')) {
    const endpoint = httpUrl({ RUN_STORE: raw.slice('docapi:'.length) }, 'RUN_STORE');
    const table = text(env, 'RUN_STORE_TABLE') ?? 'datasphere_runs';
    if (!/^[A-Za-z0-9_.\-/]{3,255}$/.test(table)) {
      throw new ConfigError('RUN_STORE_TABLE', `"${table}" must be 3..255 chars of letters, digits, _ . - /`);
    }
    return { kind: 'docapi', endpoint, table };
  }
  throw new ConfigError('RUN_STORE', `"${raw}" must start with file: or docapi:`);
}

function parseAllowedProjects(env: Env): '*' | ReadonlySet<string> {
  const raw = text(env, 'ALLOWED_PROJECTS');
  if (raw === undefined) return new Set();
  if (raw === '*') return '*';
  const ids = raw
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  for (const id of ids) {
    if (id.length > 50 || !/^[A-Za-z0-9_-]+$/.test(id)) {
      throw new ConfigError('ALLOWED_PROJECTS', `"${id}" is not a project id (or use * for any)`);
    }
  }
  return new Set(ids);
}

function keys(env: Env, idName: string, secretName: string): StaticKeys | undefined {
  const accessKeyId = text(env, idName);
  const secretAccessKey = text(env, secretName);
  if (accessKeyId === undefined && secretAccessKey === undefined) return undefined;
  if (accessKeyId === undefined) throw new ConfigError(idName, `is required when ${secretName} is set`);
  if (secretAccessKey === undefined) throw new ConfigError(secretName, `is required when ${idName} is set`);
  return { accessKeyId, secretAccessKey };
}

/** METRICS_FOLDER_ID turns the sweep's metrics on (the deploy sets it); the other two only tune them. */
function parseMetrics(env: Env): MetricsConfig | undefined {
  const folderId = text(env, 'METRICS_FOLDER_ID');
  const endpoint = httpUrl(env, 'MONITORING_ENDPOINT', 'https://monitoring.api.cloud.yandex.net');
  const timeoutMs = integer(env, 'METRICS_TIMEOUT_MS', 3000, 100, 5000);
  if (folderId === undefined) return undefined;
  // The write method takes folderId as a query parameter of at most 50 characters (Monitoring API reference).
  if (!/^[A-Za-z0-9_-]{1,50}$/.test(folderId)) {
    throw new ConfigError(
      'METRICS_FOLDER_ID',
      `"${folderId}" is not a folder id (1..50 letters, digits, _ or -)`,
    );
  }
  return { folderId, endpoint, timeoutMs };
}

/** True when the process runs inside Yandex Cloud Functions (the runtime sets these). */
export function detectCloudFunctions(env: Env): boolean {
  return text(env, 'LAMBDA_TASK_ROOT') !== undefined || text(env, '_HANDLER') !== undefined;
}

/** Reads and validates every setting once. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env, options: { cwd?: string } = {}): Config {
  const inCloudFunctions = detectCloudFunctions(env);
  const checkIntervalSeconds = integer(env, 'CHECK_INTERVAL_SECONDS', 20, 1, 3600);
  const checkMaxIntervalSeconds = integer(env, 'CHECK_MAX_INTERVAL_SECONDS', 60, 1, 86400);
  if (checkMaxIntervalSeconds < checkIntervalSeconds) {
    throw new ConfigError('CHECK_MAX_INTERVAL_SECONDS', 'must be at least CHECK_INTERVAL_SECONDS');
  }
  const webhookUrl = text(env, 'NOTIFY_WEBHOOK_URL');
  const queueUrl = text(env, 'NOTIFY_QUEUE_URL');
  const logLevel = (text(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `"${logLevel}" must be one of ${LOG_LEVELS.join(', ')}`);
  }
  let queue: Config['queue'];
  if (queueUrl !== undefined) {
    const queueKeys =
      keys(env, 'NOTIFY_QUEUE_ACCESS_KEY_ID', 'NOTIFY_QUEUE_SECRET_ACCESS_KEY') ??
      keys(env, 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY');
    if (queueKeys === undefined) {
      throw new ConfigError(
        'NOTIFY_QUEUE_ACCESS_KEY_ID',
        'Message Queue accepts only static access keys (SigV4): set NOTIFY_QUEUE_ACCESS_KEY_ID and NOTIFY_QUEUE_SECRET_ACCESS_KEY',
      );
    }
    queue = { url: httpUrl(env, 'NOTIFY_QUEUE_URL'), keys: queueKeys };
  }
  const secretHeader = text(env, 'NOTIFY_WEBHOOK_SECRET_HEADER') ?? 'X-Runner-Secret';
  if (!/^[A-Za-z0-9-]+$/.test(secretHeader)) {
    throw new ConfigError('NOTIFY_WEBHOOK_SECRET_HEADER', `"${secretHeader}" is not a header name`);
  }
  return Object.freeze({
    datasphereEndpoint: httpUrl(env, 'DATASPHERE_ENDPOINT', 'https://datasphere.api.cloud.yandex.net'),
    operationEndpoint: httpUrl(env, 'OPERATION_ENDPOINT', 'https://operation.api.cloud.yandex.net'),
    runStore: parseRunStore(env, inCloudFunctions, options.cwd ?? process.cwd()),
    storeKeys: keys(env, 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'),
    allowedProjects: parseAllowedProjects(env),
    runTimeoutSeconds: integer(env, 'RUN_TIMEOUT_SECONDS', 86400, 1, 604800),
    iamToken: text(env, 'YC_IAM_TOKEN'),
    checkConcurrency: integer(env, 'CHECK_CONCURRENCY', 32, 1, 256),
    checkFirstDelaySeconds: integer(env, 'CHECK_FIRST_DELAY_SECONDS', 0, 0, 3600),
    checkIntervalSeconds,
    checkMaxIntervalSeconds,
    checkBackoffFactor: decimal(env, 'CHECK_BACKOFF_FACTOR', 2, 1, 10),
    checkDueSlackSeconds: integer(env, 'CHECK_DUE_SLACK_SECONDS', 15, 0, 600),
    sweepLimit: integer(env, 'SWEEP_LIMIT', 10000, 1, 100000),
    notFoundGraceSeconds: integer(env, 'NOT_FOUND_GRACE_SECONDS', 300, 0, 86400),
    startRecoverySeconds: integer(env, 'START_RECOVERY_SECONDS', 120, 10, 86400),
    scheduleCatchUpMinutes: integer(env, 'SCHEDULE_CATCH_UP_MINUTES', 15, 0, 1440),
    webhook:
      webhookUrl === undefined
        ? undefined
        : {
            url: httpUrl(env, 'NOTIFY_WEBHOOK_URL'),
            secret: text(env, 'NOTIFY_WEBHOOK_SECRET'),
            secretHeader,
          },
    queue,
    metrics: parseMetrics(env),
    logLevel: logLevel as LogLevelName,
    inCloudFunctions,
  });
}

/** True when `projectId` may be acted on. */
export function isProjectAllowed(allowed: Config['allowedProjects'], projectId: string): boolean {
  return allowed === '*' || allowed.has(projectId);
}
