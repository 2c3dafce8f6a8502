// Sweep benchmarks: the BUILT check bundle in its own process (bench/function-child.cjs, plain node, as
// Cloud Functions runs it) invoked by a timer event, against the DataSphere emulator with a latency
// fault on every request, over a file ledger pre-filled through the ledger API. The sweep's time is
// judged against its latency floor measured in the same run: a bare loop of the same Gets with the same
// concurrency against the same emulator (bench/get-loop.cjs), alternated with the sweeps.
//
// Why the real bundle in a process rather than sweep() in process: it measures what users pay for,
// the minified bundle with its HTTP client, its keep-alive sockets and its own memory, and keeps the
// emulator's and the bench's work out of the function's timings and RSS.
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { timerEvent } from '../local/cloud-events.ts';
import { type Emulator, startEmulator } from '../local/emulator/emulator.ts';
import type { SweepSummary } from '../shared/core/sweep.ts';
import { createFileLedger } from '../shared/ledger/file-store.ts';
import type { RunLedger } from '../shared/ledger/run-ledger.ts';
import { emulatorOperations, fill, finishedRecord, makeDue, runningRecord } from './ledger-fill.ts';

export interface ChildAnswer {
  readonly id: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly maxRssBytes: number;
}

export interface FunctionProcess {
  /** `extra` goes along in the message (e.g. `clockOffsetMs`, read by function-child.cjs). */
  invoke(event: unknown, extra?: Record<string, unknown>): Promise<ChildAnswer>;
  /** Log lines the function wrote (its JSON lines, and anything on stderr prefixed with `!`). */
  readonly lines: string[];
  close(): Promise<void>;
}

/**
 * Starts one instance of a built function on `node` (default: this one); resolves once its bundle is
 * loaded. `execArgv` e.g. for a clock preload.
 */
export async function startFunction(
  bundle: string,
  env: Record<string, string>,
  node: string = process.execPath,
  execArgv: string[] = [],
): Promise<FunctionProcess> {
  const child: ChildProcess = fork(join(import.meta.dirname, 'function-child.cjs'), [], {
    env: { PATH: process.env.PATH ?? '', ...env, FUNCTION_BUNDLE: bundle, FUNCTION_TIMEOUT_MS: '120000' },
    execPath: node,
    execArgv,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const lines: string[] = [];
  if (child.stdout) createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  if (child.stderr) createInterface({ input: child.stderr }).on('line', (line) => lines.push(`!${line}`));
  const waiting = new Map<number, (answer: ChildAnswer) => void>();
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`function exited (${code}): ${lines.slice(-5).join('\n')}`)),
    );
    child.on('message', (message: { ready?: boolean } & Partial<ChildAnswer>) => {
      if (message.ready) resolve();
      else if (typeof message.id === 'number') waiting.get(message.id)?.(message as ChildAnswer);
    });
  });
  let nextId = 0;
  return {
    lines,
    invoke(event, extra = {}) {
      const id = ++nextId;
      return new Promise((resolve) => {
        waiting.set(id, (answer) => {
          waiting.delete(id);
          resolve(answer);
        });
        child.send({ id, event, ...extra });
      });
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The bare Get loop of bench/get-loop.cjs in its own process. */
async function startGetLoop(node: string): Promise<{
  run(origin: string, ids: readonly string[], concurrency: number): Promise<number>;
  close(): void;
}> {
  const child = fork(join(import.meta.dirname, 'get-loop.cjs'), [], {
    env: { PATH: process.env.PATH ?? '' },
    execPath: node,
    execArgv: [],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, (answer: { ms: number; failures: number }) => void>();
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the Get loop exited (${code})`)));
    child.on('message', (message: { ready?: boolean; id?: number; ms: number; failures: number }) => {
      if (message.ready) resolve();
      else if (typeof message.id === 'number') waiting.get(message.id)?.(message);
    });
  });
  let nextId = 0;
  return {
    async run(origin, ids, concurrency) {
      const id = ++nextId;
      const answer = await new Promise<{ ms: number; failures: number }>((resolve) => {
        waiting.set(id, resolve);
        child.send({ id, origin, ids, concurrency, token: 't1.bench-token' });
      });
      waiting.delete(id);
      if (answer.failures > 0) throw new Error(`the bare Get loop had ${answer.failures} failed Gets`);
      return answer.ms;
    },
    close() {
      if (child.connected) child.disconnect();
    },
  };
}

export interface SweepFigures {
  /** One sweep of 300 due runs: the median over the repeats, ms (the sweep's own durationMs). */
  readonly dueSweepMs: number;
  /** The bare loop of the same 300 Gets, same concurrency and emulator: the median, ms. */
  readonly floorMs: number;
  /** The median over the rounds of (sweep ÷ the floor measured just before it). */
  readonly overFloor: number;
  /** Fastest sweep ÷ fastest floor: the least disturbed pair on a shared machine. */
  readonly bestOverFloor: number;
  /** CPU time of the sweep's process (all threads), median, ms. */
  readonly dueSweepCpuMs: number;
  readonly floorRepeats: readonly number[];
  /** `ceil(due / concurrency) × latency`: the floor in theory, ms. */
  readonly theoreticalFloorMs: number;
  readonly concurrency: number;
  /** The same with 10,000 finished runs also in the ledger, ms. */
  readonly withHistoryMs: number;
  /** Every repeat, for the record. */
  readonly dueSweepRepeats: readonly number[];
  readonly withHistoryRepeats: readonly number[];
  /** Runs each measured sweep checked (must equal the due count). */
  readonly checked: number;
  /** Peak RSS of a fresh check instance over one sweep with `openRuns` running runs due. */
  readonly peakRssBytes: number;
  readonly openRuns: number;
  /** Runs that sweep checked (all of them unless SWEEP_LIMIT or the deadline stopped it). */
  readonly openChecked: number;
  readonly openSweepMs: number;
}

export interface SweepOptions {
  readonly distDir: string;
  /** @default 300 */
  readonly dueRuns?: number;
  /** @default 10000 */
  readonly historyRuns?: number;
  /** @default 10000 */
  readonly openRuns?: number;
  /** @default 20 */
  readonly latencyMs?: number;
  /** Measured sweeps per case (alternating between the cases). @default 3 */
  readonly repeats?: number;
  /** Where the ledgers go. @default os.tmpdir() */
  readonly scratchDir?: string;
  /** The node of the function processes and the Get loop. @default process.execPath */
  readonly node?: string;
  /** The sweep's CHECK_CONCURRENCY (and the Get loop's). @default 32 */
  readonly concurrency?: number;
  readonly progress?: (line: string) => void;
}

function summaryOf(answer: ChildAnswer): SweepSummary {
  if (!answer.ok) throw new Error(`the sweep failed: ${answer.error}`);
  return answer.result as SweepSummary;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

export async function runSweepBenchmarks(options: SweepOptions): Promise<SweepFigures> {
  const dueRuns = options.dueRuns ?? 300;
  const historyRuns = options.historyRuns ?? 10_000;
  const openRuns = options.openRuns ?? 10_000;
  const repeats = options.repeats ?? 3;
  const node = options.node ?? process.execPath;
  const concurrency = options.concurrency ?? 32;
  const latencyMs = options.latencyMs ?? 20;
  const progress = options.progress ?? (() => undefined);
  const bundle = join(options.distDir, 'check', 'index.js');
  const root = await mkdtemp(join(options.scratchDir ?? tmpdir(), 'datasphere-runner-bench-'));
  const emulator: Emulator = await startEmulator({ durationMs: 6 * 3_600_000 });
  const functions: FunctionProcess[] = [];
  const ledgers: RunLedger[] = [];
  const env = (dir: string) => ({
    RUN_STORE: `file:${dir}`,
    DATASPHERE_ENDPOINT: emulator.url,
    OPERATION_ENDPOINT: emulator.url,
    ALLOWED_PROJECTS: '*',
    CHECK_CONCURRENCY: String(concurrency),
  });
  let getLoop: Awaited<ReturnType<typeof startGetLoop>> | undefined;
  try {
    // Two ledgers with the same 300 due runs; the second also holds 10,000 finished ones.
    progress(`sweep: creating ${dueRuns} operations and filling two ledgers (+${historyRuns} finished runs)`);
    const dueOps = await emulatorOperations(emulator.url, dueRuns);
    const past = new Date(Date.now() - 60_000);
    const cases = [];
    for (const name of ['plain', 'history'] as const) {
      const dir = join(root, name);
      const ledger = createFileLedger({ dir });
      ledgers.push(ledger);
      const due = dueOps.map((op, i) => runningRecord(i, op, past));
      await fill(ledger, due);
      if (name === 'history') {
        const longAgo = new Date(Date.now() - 30 * 86_400_000);
        await fill(
          ledger,
          Array.from({ length: historyRuns }, (_, i) =>
            finishedRecord(i, new Date(longAgo.getTime() + i * 60_000)),
          ),
        );
      }
      const fn = await startFunction(bundle, env(dir), node);
      functions.push(fn);
      cases.push({
        name,
        ledger,
        fn,
        runIds: due.map((r) => r.runId),
        times: [] as number[],
        cpu: [] as number[],
      });
    }
    // Warm both instances with real sweeps (runtime built, sockets open, hot code optimised): Cloud
    // Functions keeps an instance warm between per-minute ticks. The same runs are made due again after
    // every sweep, so each measured sweep has exactly `dueRuns` to check.
    getLoop = await startGetLoop(node);
    const loop = getLoop;
    emulator.inject({ kind: 'latency', latencyMs, times: Number.POSITIVE_INFINITY });
    for (let round = 0; round < 2; round++) {
      for (const c of cases) {
        summaryOf(await c.fn.invoke(timerEvent()));
        await makeDue(c.ledger, c.runIds, new Date(Date.now() - 60_000));
      }
      await loop.run(emulator.url, dueOps, concurrency);
    }
    const floorTimes: number[] = [];
    let checked = Number.POSITIVE_INFINITY;
    for (let round = 0; round < repeats; round++) {
      // Each round: the floor, then the sweeps right after it, so a change in the machine's load hits
      // both sides of the round's ratio alike.
      floorTimes.push(Math.round(await loop.run(emulator.url, dueOps, concurrency)));
      for (const c of cases) {
        const answer = await c.fn.invoke(timerEvent());
        const summary = summaryOf(answer);
        c.cpu.push(Math.round(answer.cpuMs));
        checked = Math.min(checked, summary.checked);
        if (summary.checked !== dueRuns || summary.failures !== 0) {
          throw new Error(
            `sweep (${c.name}) checked ${summary.checked}/${dueRuns}, ${summary.failures} failures`,
          );
        }
        c.times.push(summary.durationMs);
        await makeDue(c.ledger, c.runIds, new Date(Date.now() - 60_000));
      }
    }
    const [plain, history] = cases;
    progress(
      `sweep: ${dueRuns} due: ${plain?.times.join(', ')} ms; +history: ${history?.times.join(', ')} ms; ` +
        `bare Gets: ${floorTimes.join(', ')} ms`,
    );
    for (const fn of functions.splice(0)) await fn.close();
    loop.close();

    // Peak memory: a fresh instance, one sweep over a ledger whose every run is running and due.
    progress(`sweep: creating ${openRuns} running runs for the memory sweep`);
    emulator.clearFaults();
    const openDir = join(root, 'open');
    const openLedger = createFileLedger({ dir: openDir });
    ledgers.push(openLedger);
    const openOps = await emulatorOperations(emulator.url, openRuns);
    const openRecords = openOps.map((op, i) => runningRecord(i, op, past));
    await fill(openLedger, openRecords);
    emulator.inject({ kind: 'latency', latencyMs, times: Number.POSITIVE_INFINITY });
    const fn = await startFunction(bundle, env(openDir), node);
    functions.push(fn);
    const answer = await fn.invoke(timerEvent());
    const summary = summaryOf(answer);
    progress(`sweep: ${openRuns} open: checked ${summary.checked} in ${summary.durationMs} ms`);
    return {
      dueSweepMs: median(plain?.times ?? []),
      floorMs: median(floorTimes),
      overFloor: median((plain?.times ?? []).map((t, i) => t / (floorTimes[i] ?? Number.NaN))),
      bestOverFloor: Math.min(...(plain?.times ?? [])) / Math.min(...floorTimes),
      dueSweepCpuMs: median(plain?.cpu ?? []),
      floorRepeats: floorTimes,
      theoreticalFloorMs: Math.ceil(dueRuns / concurrency) * latencyMs,
      concurrency,
      withHistoryMs: median(history?.times ?? []),
      dueSweepRepeats: plain?.times ?? [],
      withHistoryRepeats: history?.times ?? [],
      checked,
      peakRssBytes: answer.maxRssBytes,
      openRuns,
      openChecked: summary.checked,
      openSweepMs: summary.durationMs,
    };
  } finally {
    getLoop?.close();
    for (const fn of functions) await fn.close();
    for (const ledger of ledgers) await ledger.close?.();
    await emulator.close();
    await rm(root, { recursive: true, force: true });
  }
}
