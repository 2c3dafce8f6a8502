/**
 * What every end-to-end test needs: the BUILT bundles (built into a temp dir), the DataSphere emulator,
 * the local platform running each bundle in its own process, every log line collected, an HTTP client
 * for the front door that keeps every answer, and bounded polling.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from '../../../build.mjs';
import { type Emulator, type EmulatorOptions, startEmulator } from '../../../local/emulator/emulator.ts';
import { type LocalPlatform, type PlatformOptions, startLocalPlatform } from '../../../local/platform.ts';
import { apiKeyEntryLine } from '../../../shared/auth/api-keys.ts';
import { type FunctionProcess, startFunctionProcess } from './function-process.ts';

/** The real-shaped trigger events (copied into the repository from the reference fixtures). */
export const FIXTURES_DIR = join(import.meta.dirname, '../../fixtures/events');
/** The DataSphere project every fixture names; allowed through ALLOWED_PROJECTS, the fixtures stay as they are. */
export const FIXTURE_PROJECT = 'bt1q7c5m2k9r4v0h8e3s';
/** The project the tests' own requests use. */
export const PROJECT = 'p-e2e';

/** A fresh copy of a fixture event (tests may change their copy). */
export function fixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES_DIR, name), 'utf8')) as T;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field, each checked by an assertion.
export type Json = Record<string, any>;

export interface BuiltBundles {
  /** `<dir>/dist`: what `startLocalPlatform` runs. */
  readonly distDir: string;
  /** The temp dir holding the bundles (and room for a ledger, a jobs file...). */
  readonly dir: string;
  remove(): void;
}

/** A temp dir removed by `remove()`. */
export function tempDir(prefix = 'ds-e2e-'): { readonly path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface BuildOptions {
  /** A jobs file to embed. */
  readonly jobsFile?: string;
  /** The text of a jobs file to embed (written as `<dir>/jobs.yaml`). */
  readonly jobs?: string;
  readonly dir?: string;
}

/**
 * Builds the three bundles into a new temp dir, with the jobs file embedded into execute (the build
 * reads JOBS_FILE from the environment, so it is set for the duration of the build only).
 */
export async function buildBundles(options: BuildOptions = {}): Promise<BuiltBundles> {
  const dir = options.dir ?? tempDir().path;
  const distDir = join(dir, 'dist');
  let jobsFile = options.jobsFile;
  if (options.jobs !== undefined) {
    jobsFile = join(dir, 'jobs.yaml');
    writeFileSync(jobsFile, options.jobs);
  }
  const saved = process.env.JOBS_FILE;
  if (jobsFile === undefined) delete process.env.JOBS_FILE;
  else process.env.JOBS_FILE = jobsFile;
  try {
    await build({ outDir: distDir, quiet: true });
  } finally {
    if (saved === undefined) delete process.env.JOBS_FILE;
    else process.env.JOBS_FILE = saved;
  }
  return { distDir, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface LogEntry {
  /** `execute`, `check#2`, `cancel!` (stderr), `platform`, `emulator`. */
  readonly source: string;
  readonly text: string;
  /** The parsed line, when it is a JSON log line. */
  readonly json: Record<string, unknown> | undefined;
}

/** Every line the functions, the platform and the emulator wrote. */
export class LogBook {
  readonly entries: LogEntry[] = [];

  readonly add = (source: string, text: string): void => {
    let json: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        json = parsed as Record<string, unknown>;
      }
    } catch {
      json = undefined;
    }
    this.entries.push({ source, text, json });
  };

  /** JSON lines with this `msg` (and, when given, about this run). */
  lines(msg: string, runId?: string): Record<string, unknown>[] {
    return this.entries
      .map((entry) => entry.json)
      .filter(
        (json): json is Record<string, unknown> =>
          json !== undefined && json.msg === msg && (runId === undefined || json.runId === runId),
      );
  }

  /** How many times the run was reported finished (`"msg": "run finished"`), by any instance. */
  finishedCount(runId: string): number {
    return this.lines('run finished', runId).length;
  }

  /** The run's latest status as the functions logged it (`run claimed` / `run status changed`). */
  statusOf(runId: string): string | undefined {
    let status: string | undefined;
    for (const entry of this.entries) {
      const json = entry.json;
      if (json?.runId !== runId) continue;
      if (json.msg === 'run status changed' || json.msg === 'run claimed') status = json.status as string;
    }
    return status;
  }

  /** The text of every line, for searching (secrets). */
  allText(): string {
    return this.entries.map((entry) => `${entry.source} ${entry.text}`).join('\n');
  }

  /** A readable tail for assertion messages. */
  tail(count = 40): string {
    return this.entries
      .slice(-count)
      .map((entry) => `${entry.source}: ${entry.text}`)
      .join('\n');
  }
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: Json | undefined;
}

export interface RequestOptions {
  readonly headers?: Record<string, string>;
  /** A value is sent as JSON; a string as it is. */
  readonly body?: unknown;
  /**
   * The gateway routes (`/runs…`) need credentials (docs/auth.md): unless the headers carry some, or this
   * is set, the harness sends its own API key (HARNESS_API_KEY, allowed every project).
   */
  readonly anonymous?: boolean;
}

/** The API key every harness accepts (API_KEYS below), for any project: obviously fake. */
export const HARNESS_API_KEY = 'dsr_e2e-harness-key-fake-0000000000000000';
const HARNESS_API_KEYS = apiKeyEntryLine('e2e-harness', HARNESS_API_KEY, '*');

export interface HarnessOptions {
  readonly distDir: string;
  /** Function environment; DATASPHERE_ENDPOINT/OPERATION_ENDPOINT and test defaults are added. */
  readonly env: Readonly<Record<string, string>>;
  readonly emulator?: EmulatorOptions;
  readonly contextToken?: string;
  readonly queue?: PlatformOptions['queue'];
  readonly functionEnv?: PlatformOptions['functionEnv'];
  /** Shared with another harness, so one book holds every line. */
  readonly logs?: LogBook;
}

export interface Harness {
  readonly emulator: Emulator;
  readonly platform: LocalPlatform;
  readonly logs: LogBook;
  /** Every front-door answer body (for the secret checks). */
  readonly answers: string[];
  request(method: string, path: string, options?: RequestOptions): Promise<HttpAnswer>;
  /** `POST /execute` with a JSON run request; asserts nothing. */
  execute(body: unknown, headers?: Record<string, string>): Promise<HttpAnswer>;
  /** `GET /check?runId=…`. */
  check(runId: string): Promise<HttpAnswer>;
  /** Emulated Execute operations of one notebook. */
  operationsOf(notebookId: string): ReturnType<Emulator['operations']>;
  /** Requests the emulator received for Project.Execute in `projectId`. */
  executeRequests(projectId: string): Emulator['requests'];
  /** Timer ticks (execute + check) until the run's logged status is `status`. */
  waitForStatus(runId: string, status: string, timeoutMs?: number): Promise<void>;
  /**
   * Another instance of `fn` in a process the test owns (it can SIGKILL it), with the platform's
   * environment plus `env`; its lines go to the same log book as `<fn>~<n>`. Closed with the harness.
   */
  spawn(fn: 'execute' | 'check' | 'cancel', env?: Readonly<Record<string, string>>): Promise<FunctionProcess>;
  close(): Promise<void>;
}

/** Settings that make every tick check every running run, and log everything. */
export const FAST_CHECKS: Readonly<Record<string, string>> = {
  CHECK_INTERVAL_SECONDS: '1',
  CHECK_FIRST_DELAY_SECONDS: '0',
  CHECK_MAX_INTERVAL_SECONDS: '1',
  CHECK_DUE_SLACK_SECONDS: '2',
  LOG_LEVEL: 'debug',
};

/**
 * The node binary that runs the functions: E2E_FUNCTION_NODE (the CI's second pass sets it to the
 * runtime's Node 22.15, see .ci/run), else this process's own.
 */
export const FUNCTION_NODE: string | undefined = process.env.E2E_FUNCTION_NODE || undefined;

/** Starts an emulator and the platform running the built bundles against it. */
export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const logs = options.logs ?? new LogBook();
  const emulator = await startEmulator({
    durationMs: 150,
    cancelDelayMs: 50,
    ...options.emulator,
    log: (line) => logs.add('emulator', line),
  });
  let platform: LocalPlatform;
  const functionEnv: Record<string, string> = {
    ...FAST_CHECKS,
    YC_IAM_TOKEN: 't1.test-token',
    API_KEYS: HARNESS_API_KEYS,
    ...options.env,
    DATASPHERE_ENDPOINT: emulator.url,
    OPERATION_ENDPOINT: emulator.url,
  };
  const spawned: FunctionProcess[] = [];
  try {
    platform = await startLocalPlatform({
      distDir: options.distDir,
      env: functionEnv,
      timerMs: 0,
      onLine: logs.add,
      ...(FUNCTION_NODE === undefined ? {} : { nodePath: FUNCTION_NODE }),
      ...(options.contextToken === undefined ? {} : { contextToken: options.contextToken }),
      ...(options.queue === undefined ? {} : { queue: options.queue }),
      ...(options.functionEnv === undefined ? {} : { functionEnv: options.functionEnv }),
    });
  } catch (error) {
    await emulator.close();
    throw error;
  }
  const answers: string[] = [];

  const request = async (method: string, path: string, opts: RequestOptions = {}): Promise<HttpAnswer> => {
    const headers: Record<string, string> = { ...opts.headers };
    const credentialed = Object.keys(headers).some((name) =>
      ['authorization', 'x-api-key'].includes(name.toLowerCase()),
    );
    if (path.startsWith('/runs') && !credentialed && opts.anonymous !== true) {
      headers['X-Api-Key'] = HARNESS_API_KEY;
    }
    let body: string | undefined;
    if (typeof opts.body === 'string') body = opts.body;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${platform.url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();
    answers.push(text);
    let json: Json | undefined;
    try {
      json = JSON.parse(text) as Json;
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  };

  const harness: Harness = {
    emulator,
    platform,
    logs,
    answers,
    request,
    execute: (body, headers = {}) => request('POST', '/execute', { body, headers }),
    check: (runId) => request('GET', `/check?runId=${encodeURIComponent(runId)}`),
    operationsOf: (notebookId) =>
      emulator.operations().filter((op) => op.kind === 'execute' && op.notebookId === notebookId),
    executeRequests: (projectId) =>
      emulator.requests.filter(
        (r) => r.method === 'POST' && r.path === `/datasphere/v2/projects/${projectId}:execute`,
      ),
    async waitForStatus(runId, status, timeoutMs = 15_000) {
      await eventually(
        `run ${runId} to become ${status}`,
        async () => {
          if (logs.statusOf(runId) === status) return true;
          await platform.tick();
          return logs.statusOf(runId) === status;
        },
        { timeoutMs, describe: () => `last logged status ${logs.statusOf(runId)}\n${logs.tail()}` },
      );
    },
    async spawn(fn, env = {}) {
      const instance = await startFunctionProcess({
        distDir: options.distDir,
        fn,
        env: { ...functionEnv, ...options.functionEnv?.[fn], ...env },
        source: `${fn}~${spawned.length + 1}`,
        onLine: logs.add,
        ...(options.contextToken === undefined ? {} : { contextToken: options.contextToken }),
      });
      spawned.push(instance);
      return instance;
    },
    async close() {
      await Promise.all(spawned.map((instance) => instance.close()));
      await platform.close();
      await emulator.close();
    },
  };
  return harness;
}

export interface EventuallyOptions {
  /** @default 15000 */
  readonly timeoutMs?: number;
  /** Pause between probes. @default 50 */
  readonly intervalMs?: number;
  /** Extra text for the failure message. */
  readonly describe?: () => string;
}

/** Probes until it returns something other than undefined/false; fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: EventuallyOptions = {},
): Promise<T> {
  const until = Date.now() + (options.timeoutMs ?? 15_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > until) {
      const extra = options.describe?.() ?? '';
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out waiting for ${what}${cause}${extra === '' ? '' : `\n${extra}`}`);
    }
    await pause(options.intervalMs ?? 50);
  }
}

/** A short real pause between polls (never used to wait for an outcome). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The JSON body of a raw HTTP invocation result (`platform.invoke` of an HTTP event). */
export function invocationAnswer(result: { ok: boolean; result?: unknown; errorMessage?: string }): {
  statusCode: number;
  headers: Record<string, string>;
  json: Json;
} {
  if (!result.ok) throw new Error(`the invocation failed: ${result.errorMessage}`);
  const answer = result.result as { statusCode: number; headers?: Record<string, string>; body: string };
  return { statusCode: answer.statusCode, headers: answer.headers ?? {}, json: JSON.parse(answer.body) };
}
