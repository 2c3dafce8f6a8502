// The cold start users pay: each function's FIRST invocation (a fresh node process loads the built
// bundle and handles one real request against the DataSphere emulator on 127.0.0.1) over the same for
// an empty handler, in CPU instructions (valgrind's callgrind: JIT on, every thread counted; the counts
// repeat to ~0.01 M on a noisy machine where wall time does not) and in wall time (paired runs).
//
// What one first call does:
//   execute: POST of a run request → ledger claim, Project.Execute, ledger commit → 202;
//   check:   the per-minute sweep with one due run → Operation.Get, ledger update;
//   cancel:  POST {runId} of a running run → Operation.Cancel, ledger update → 202;
//   sdk:     bench/sdk-handler.ts → Session + ProjectService.Execute over gRPC (TLS) to the emulator,
//            which speaks HTTP/1.1 REST: the call fails at the TLS handshake, so the SDK's figure counts
//            everything up to that failure (the load, the channel, the connect), not a real exchange.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpEvent, timerEvent } from '../local/cloud-events.ts';
import { type Emulator, startEmulator } from '../local/emulator/emulator.ts';
import { createFileLedger } from '../shared/ledger/file-store.ts';
import { emulatorOperations, fill, PROJECT, runningRecord } from './ledger-fill.ts';

export type CaseKey = 'empty' | 'execute' | 'check' | 'cancel' | 'sdk';

export interface CallAnswer {
  readonly loadMs: number;
  readonly doneMs: number;
  readonly ok: boolean;
  readonly statusCode?: number;
  readonly body?: string;
  readonly result?: unknown;
  readonly error?: string;
}

export interface Measured {
  readonly instructions: number;
  readonly answer: CallAnswer;
}

export interface FirstCallFigures {
  readonly node: string;
  readonly nodeVersion: string;
  /** Instructions per case (the empty handler: the lower of two runs). */
  readonly instructions: ReadonlyMap<CaseKey, Measured>;
  /** |empty − empty#2|, M instructions: how steady the counts are. */
  readonly baselineNoise: number;
  /** Median over the pairs of (case − empty) of time to the end of the first call, ms. */
  readonly wallOverMs: ReadonlyMap<CaseKey, number>;
  /** The same figure's pairs (for the notes). */
  readonly wallPairs: number;
}

export interface FirstCallOptions {
  readonly node: string;
  readonly bundles: Readonly<Partial<Record<CaseKey, string>>>;
  /** Where the per-run ledgers go (tmpfs when there is one). */
  readonly scratchDir: string;
  /** Whether to count instructions (needs valgrind). */
  readonly callgrind: boolean;
  /** Paired wall-time runs per case; 0 = none. */
  readonly wallPairs: number;
  readonly log: (line: string) => void;
}

const FIRST_CALL = join(import.meta.dirname, 'first-call.cjs');
/** Fixed seeds: random hash seeds alone move a count by a few M. */
const NODE_FLAGS = ['--hash-seed=1', '--random-seed=1'];

interface Prepared {
  readonly args: string[];
  readonly env: Record<string, string>;
  readonly check: (answer: CallAnswer) => string | undefined;
  readonly cleanup: () => void;
}

/** Builds the state one first call needs (its own ledger, its own emulator operation) and its argv. */
async function prepare(key: CaseKey, bundle: string, emulator: Emulator, scratch: string): Promise<Prepared> {
  const dir = mkdtempSync(join(scratch, `datasphere-runner-first-${key}-`));
  const eventFile = join(dir, 'event.json');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    RUN_STORE: `file:${join(dir, 'runs')}`,
    DATASPHERE_ENDPOINT: emulator.url,
    OPERATION_ENDPOINT: emulator.url,
    ALLOWED_PROJECTS: '*',
    CHECK_FIRST_DELAY_SECONDS: '0',
  };
  const post = (url: string, body: unknown) =>
    httpEvent({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify(body)),
    });
  let event: unknown;
  let check: Prepared['check'] = (a) => (a.ok ? undefined : `failed: ${a.error}`);
  const status = (expected: number) => (a: CallAnswer) =>
    a.ok && a.statusCode === expected ? undefined : `answered ${a.statusCode ?? a.error}: ${a.body ?? ''}`;
  const oneRunning = async () => {
    const [operationId] = await emulatorOperations(emulator.url, 1);
    const record = runningRecord(0, operationId as string, new Date(Date.now() - 60_000));
    const ledger = createFileLedger({ dir: join(dir, 'runs') });
    await fill(ledger, [record]);
    await ledger.close?.();
    return record.runId;
  };
  switch (key) {
    case 'empty':
      event = post('/', {});
      break;
    case 'execute':
      event = post('/execute', { projectId: PROJECT, notebookId: 'bench/first-call.ipynb' });
      check = status(202);
      break;
    case 'check':
      await oneRunning();
      event = timerEvent();
      check = (a) => {
        const summary = a.result as { checked?: number; failures?: number } | null | undefined;
        return a.ok && summary?.checked === 1 && summary.failures === 0
          ? undefined
          : `sweep ${JSON.stringify(a.result ?? a.error)}`;
      };
      break;
    case 'cancel':
      event = post('/cancel', { runId: await oneRunning() });
      check = status(202);
      break;
    case 'sdk':
      event = post('/execute', { projectId: PROJECT, notebookId: 'bench/first-call.ipynb' });
      env.SDK_ENDPOINT = `127.0.0.1:${emulator.port}`;
      // Expected to fail (gRPC over TLS to an HTTP/1.1 server): any answer is accepted and noted.
      check = () => undefined;
      break;
  }
  writeFileSync(eventFile, JSON.stringify(event));
  return {
    args: [...NODE_FLAGS, FIRST_CALL, bundle, eventFile],
    env,
    check,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function parseAnswer(stdout: string): CallAnswer | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith('@@first-call '));
  return line === undefined ? undefined : (JSON.parse(line.slice('@@first-call '.length)) as CallAnswer);
}

function run(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { env, maxBuffer: 64 * 1024 * 1024 }, (_error, stdout, stderr) =>
      resolve({ stdout, stderr }),
    );
  });
}

async function once(
  key: CaseKey,
  options: FirstCallOptions,
  emulator: Emulator,
  underCallgrind: boolean,
): Promise<{ answer: CallAnswer; instructions?: number }> {
  const bundle = options.bundles[key];
  if (bundle === undefined) throw new Error(`no bundle for ${key}`);
  const prepared = await prepare(key, bundle, emulator, options.scratchDir);
  try {
    const { stdout, stderr } = underCallgrind
      ? await run(
          'valgrind',
          ['--tool=callgrind', '--callgrind-out-file=/dev/null', options.node, ...prepared.args],
          prepared.env,
        )
      : await run(options.node, prepared.args, prepared.env);
    const answer = parseAnswer(stdout);
    if (answer === undefined) {
      throw new Error(`${key}: the first call printed no answer: ${(stderr || stdout).slice(-600)}`);
    }
    const wrong = prepared.check(answer);
    if (wrong !== undefined) throw new Error(`${key}: the first call did not do its work: ${wrong}`);
    if (!underCallgrind) return { answer };
    const match = /Collected\s*:\s*(\d+)/.exec(stderr);
    if (match?.[1] === undefined)
      throw new Error(`${key}: callgrind printed no total: ${stderr.slice(-500)}`);
    return { answer, instructions: Number(match[1]) };
  } finally {
    prepared.cleanup();
  }
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/** Measures every case given a bundle (and `empty`, which is required). */
export async function measureFirstCalls(options: FirstCallOptions): Promise<FirstCallFigures> {
  const keys = (['execute', 'check', 'cancel', 'sdk'] as const).filter(
    (k) => options.bundles[k] !== undefined,
  );
  const emulator = await startEmulator({ durationMs: 3_600_000, cancelDelayMs: 0 });
  const nodeVersion = (
    await run(options.node, ['--version'], { PATH: process.env.PATH ?? '' })
  ).stdout.trim();
  try {
    const instructions = new Map<CaseKey, Measured>();
    let baselineNoise = Number.NaN;
    if (options.callgrind) {
      options.log(`first calls on node ${nodeVersion}: callgrind, 2 at a time (${keys.length + 2} runs)`);
      const jobs: { key: CaseKey | 'empty#2'; case: CaseKey }[] = [
        { key: 'empty', case: 'empty' },
        { key: 'empty#2', case: 'empty' },
        ...keys.map((k) => ({ key: k, case: k })),
      ];
      const done = await limited(
        jobs.map((job) => async () => [job.key, await once(job.case, options, emulator, true)] as const),
        2,
      );
      const byKey = new Map(done);
      const a = byKey.get('empty');
      const b = byKey.get('empty#2');
      if (a?.instructions === undefined || b?.instructions === undefined) throw new Error('no baseline');
      baselineNoise = Math.abs(a.instructions - b.instructions) / 1e6;
      const low = a.instructions <= b.instructions ? a : b;
      instructions.set('empty', { instructions: low.instructions as number, answer: low.answer });
      for (const key of keys) {
        const m = byKey.get(key);
        if (m?.instructions !== undefined)
          instructions.set(key, { instructions: m.instructions, answer: m.answer });
      }
    }
    const wallOverMs = new Map<CaseKey, number>();
    if (options.wallPairs > 0) {
      options.log(`first calls on node ${nodeVersion}: wall time, ${options.wallPairs} pairs per case`);
      const deltas = new Map<CaseKey, number[]>(keys.map((k) => [k, []]));
      for (let pair = 0; pair < options.wallPairs; pair++) {
        for (const key of keys) {
          // Alternate the order within a pair so a drift in the machine's load does not favour one side.
          const first = pair % 2 === 0 ? 'empty' : key;
          const second = first === 'empty' ? key : 'empty';
          const x = await once(first, options, emulator, false);
          const y = await once(second, options, emulator, false);
          const [base, over] = first === 'empty' ? [x, y] : [y, x];
          deltas.get(key)?.push(over.answer.doneMs - base.answer.doneMs);
        }
      }
      for (const [key, values] of deltas) wallOverMs.set(key, median(values));
    }
    return {
      node: options.node,
      nodeVersion,
      instructions,
      baselineNoise,
      wallOverMs,
      wallPairs: options.wallPairs,
    };
  } finally {
    await emulator.close();
  }
}

/** valgrind's version line, or undefined when it is not installed. */
export function valgrindVersion(): string | undefined {
  try {
    return execFileSync('valgrind', ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** Runs `tasks` with at most `concurrency` at once (callgrind is slow; this machine has 2 cores). */
export async function limited<T>(tasks: readonly (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, tasks.length) }, async () => {
      while (next < tasks.length) {
        const index = next++;
        results[index] = await (tasks[index] as () => Promise<T>)();
      }
    }),
  );
  return results;
}
