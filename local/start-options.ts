/**
 * The options of `npm start` and the environment its functions get. Settings of the functions
 * (design.md §3) are taken from the environment when set, so that `ALLOWED_PROJECTS=p1 npm start`
 * shows the documented 403 for any other project; the local defaults fill in the rest. The endpoints
 * and the IAM token are always the emulator's: `npm start` never calls a real DataSphere.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CONSOLE_LEVELS, type ConsoleLevel } from './local-console.ts';

export interface StartOptions {
  readonly port: number;
  readonly emulatorPort: number;
  readonly tickSeconds: number;
  readonly runSeconds: number;
  readonly logLevel: ConsoleLevel;
  /** Where the local build (`dist`) and the file ledger (`runs`) go. */
  readonly stateDir: string;
  readonly help: boolean;
}

/** A wrong option: one line, exit 2. */
export class StartUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartUsageError';
  }
}

export const START_HELP = `Usage: npm start -- [options]

The whole datasphere-runner chain on this machine, no cloud account: the DataSphere emulator, the three
built functions served as Cloud Functions serves them, their timer and queue triggers, a webhook
receiver for run reports, and a front door with the API Gateway's routes for the CLI and curl.

Options:
  --port N             front door port (default 8080; 0 = any free port)
  --emulator-port N    DataSphere emulator port (default 8787; 0 = any free port)
  --tick-seconds S     timer period of the jobs tick and the sweep (default 10; the cloud's is 60)
  --run-seconds S      how long an emulated notebook run takes (default 20)
  --log-level L        debug, info, warn or error (default info; debug adds the emulator's requests)
  -v, --verbose        the same as --log-level debug
  --state-dir DIR      where the local build and ledger go (default .local)
  -h, --help           this help

The /runs routes need credentials, as through the API Gateway: npm start prints the API key it expects
(DATASPHERE_RUNNER_API_KEY when set, else the one kept in <state-dir>/local-api-key, else a new one);
with API_KEYS set, those keys apply instead. The function URLs (/execute, /check, /cancel) and the
queues stand for direct invocations, which IAM authorizes in the cloud: they need none.

Settings from the environment are passed to the functions (README: Configuration), e.g.
  ALLOWED_PROJECTS=demo-project npm start     any other project is refused with 403 (default here: *)
  RUN_TIMEOUT_SECONDS, CHECK_*, NOTIFY_WEBHOOK_URL, RUN_STORE, LOG_LEVEL, API_KEYS, JOBS_FILE (default local/demo-jobs.yaml)
`;

const DEFAULTS = { port: 8080, emulatorPort: 8787, tickSeconds: 10, runSeconds: 20 };

function port(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) {
    throw new StartUsageError(`--${name}: "${raw}" is not a port (0..65535)`);
  }
  return Number(raw);
}

function seconds(raw: string | undefined, name: string, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < min || value > 86400) {
    throw new StartUsageError(`--${name}: "${raw}" must be a number of seconds from ${min} to 86400`);
  }
  return value;
}

export function parseStartOptions(args: readonly string[], cwd: string): StartOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...args],
      options: {
        port: { type: 'string' },
        'emulator-port': { type: 'string' },
        'tick-seconds': { type: 'string' },
        'run-seconds': { type: 'string' },
        'log-level': { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
        'state-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    const detail = (error as Error).message.split('. ')[0] ?? String(error);
    throw new StartUsageError(`${detail}; see npm start -- --help`);
  }
  const str = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const level = str('log-level')?.toLowerCase();
  if (level !== undefined && !(CONSOLE_LEVELS as readonly string[]).includes(level)) {
    throw new StartUsageError(
      `--log-level: "${str('log-level')}" must be one of ${CONSOLE_LEVELS.join(', ')}`,
    );
  }
  const stateDir = str('state-dir') ?? '.local';
  return {
    port: port(str('port'), 'port', DEFAULTS.port),
    emulatorPort: port(str('emulator-port'), 'emulator-port', DEFAULTS.emulatorPort),
    tickSeconds: seconds(str('tick-seconds'), 'tick-seconds', DEFAULTS.tickSeconds, 0.2),
    runSeconds: seconds(str('run-seconds'), 'run-seconds', DEFAULTS.runSeconds, 0),
    logLevel: values.verbose === true ? 'debug' : ((level as ConsoleLevel | undefined) ?? 'info'),
    stateDir: isAbsolute(stateDir) ? stateDir : resolve(cwd, stateDir),
    help: values.help === true,
  };
}

/** Function settings taken from the environment as they are (design.md §3 and the README's table). */
export const PASSED_SETTINGS = [
  'ALLOWED_PROJECTS',
  'RUN_STORE',
  'RUN_STORE_TABLE',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'RUN_TIMEOUT_SECONDS',
  'CHECK_CONCURRENCY',
  'CHECK_FIRST_DELAY_SECONDS',
  'CHECK_INTERVAL_SECONDS',
  'CHECK_MAX_INTERVAL_SECONDS',
  'CHECK_BACKOFF_FACTOR',
  'CHECK_DUE_SLACK_SECONDS',
  'NOT_FOUND_GRACE_SECONDS',
  'START_RECOVERY_SECONDS',
  'SWEEP_LIMIT',
  'SCHEDULE_CATCH_UP_MINUTES',
  'NOTIFY_WEBHOOK_URL',
  'NOTIFY_WEBHOOK_SECRET',
  'NOTIFY_WEBHOOK_SECRET_HEADER',
  'NOTIFY_QUEUE_URL',
  'NOTIFY_QUEUE_ACCESS_KEY_ID',
  'NOTIFY_QUEUE_SECRET_ACCESS_KEY',
  'LOG_LEVEL',
  'API_KEYS',
  'AUTH_CACHE_SECONDS',
] as const;

export interface FunctionEnvironment {
  readonly env: Record<string, string>;
  /** The settings that came from the environment (names only: values may be secrets). */
  readonly fromEnvironment: readonly string[];
}

/** The functions' environment: local defaults, overridden by the settings set in `env`. */
export function functionEnvironment(
  options: StartOptions,
  local: { readonly emulatorUrl: string; readonly webhookUrl: string },
  env: Readonly<Record<string, string | undefined>>,
): FunctionEnvironment {
  const defaults: Record<string, string> = {
    RUN_STORE: `file:${join(options.stateDir, 'runs')}`,
    // Any project locally, so the walkthrough works as typed; set ALLOWED_PROJECTS to see the 403.
    ALLOWED_PROJECTS: '*',
    CHECK_INTERVAL_SECONDS: String(Math.max(1, Math.min(20, Math.round(options.tickSeconds)))),
    // First check one tick after the start (locally only: the functions' default, 0, is the first sweep).
    CHECK_FIRST_DELAY_SECONDS: String(Math.round(options.tickSeconds)),
    NOTIFY_WEBHOOK_URL: local.webhookUrl,
    NOTIFY_WEBHOOK_SECRET: 'local-demo-secret',
    LOG_LEVEL: options.logLevel,
  };
  const fromEnvironment: string[] = [];
  const taken: Record<string, string> = {};
  for (const name of PASSED_SETTINGS) {
    const value = env[name];
    if (value === undefined || value.trim() === '') continue;
    taken[name] = value;
    fromEnvironment.push(name);
  }
  return {
    env: {
      ...defaults,
      ...taken,
      // Always the emulator: npm start never reaches a real DataSphere with a real token.
      DATASPHERE_ENDPOINT: local.emulatorUrl,
      OPERATION_ENDPOINT: local.emulatorUrl,
      // The emulator accepts any bearer token; in the cloud it comes from the function's service account.
      YC_IAM_TOKEN: 'local-emulator-token',
    },
    fromEnvironment,
  };
}
