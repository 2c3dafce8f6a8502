// API economy of following one run: how many Operation.Get calls the core makes for a run of a given
// length, and how late the ledger learns that the operation finished, with the real core (startRun +
// sweep), the in-memory ledger, a fake Operation API and a simulated clock. The check timer fires once a
// minute at a phase (offset from the run's start) that the caller sweeps, optionally late by a jitter.
import type { AnyMessage, Operation } from '../shared/api/protojson.ts';
import { type CoreDeps, type CoreSettings, DEFAULT_SETTINGS } from '../shared/core/ports.ts';
import { startRun } from '../shared/core/start-run.ts';
import { sweep } from '../shared/core/sweep.ts';
import { createInMemoryLedger } from '../shared/ledger/in-memory-ledger.ts';
import { createLogger } from '../shared/log.ts';

export interface EconomyOptions {
  /** How long the operation runs. @default 3600 */
  readonly runSeconds?: number;
  /** Timer period. @default 60 */
  readonly tickSeconds?: number;
  /** Tick phases tried (seconds after the start to the first tick), spread evenly over one period. @default 120 */
  readonly phases?: number;
  /** Each tick fires late by U(0, jitter) seconds. @default 0 */
  readonly jitterSeconds?: number;
  readonly settings?: Partial<CoreSettings>;
  /** For the jitter. @default a fixed-seed generator */
  readonly random?: () => number;
}

export interface EconomyResult {
  /** Most Operation.Get calls over all phases (the one that sees `done` included). */
  readonly maxGets: number;
  readonly minGets: number;
  /** Longest time from the operation finishing to the ledger recording the final status, seconds. */
  readonly maxDelaySeconds: number;
  readonly phases: number;
}

const START = Date.parse('2026-06-01T10:00:00.000Z');

/** A small deterministic generator (mulberry32), so the jitter runs are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One run followed from its start until the ledger records it finished. */
async function followOneRun(
  phaseSeconds: number,
  options: Required<Omit<EconomyOptions, 'settings' | 'phases'>> & { settings: CoreSettings },
): Promise<{ gets: number; delaySeconds: number }> {
  let nowMs = START;
  const finishesAt = START + options.runSeconds * 1000;
  let gets = 0;
  const operation = (id: string): Operation<AnyMessage, AnyMessage> =>
    nowMs >= finishesAt
      ? {
          id,
          done: true,
          response: {
            '@type': 'type.googleapis.com/yandex.cloud.datasphere.v2.ProjectExecutionResponse',
            executionStatus: 'OK',
          },
        }
      : { id, done: false };
  const ledger = createInMemoryLedger();
  const deps: CoreDeps = {
    ledger,
    datasphere: {
      execute: async () => operation('op1'),
      activateDockerImage: async () => ({ id: 'act1', done: true }),
      openProject: async () => ({ id: 'open1', done: true }),
    },
    operations: {
      get: async (id) => {
        gets++;
        return operation(id);
      },
      cancel: async (id) => operation(id),
    },
    settings: options.settings,
    log: createLogger({ level: 'error', write: () => undefined }),
    now: () => new Date(nowMs),
    sleep: async (ms) => {
      nowMs += ms;
    },
  };
  const started = await startRun(
    {
      request: { projectId: 'p1', notebookId: 'nb.ipynb' },
      trigger: 'http',
      dedupe: { kind: 'key', key: 'k' },
    },
    deps,
  );
  const runId = started.record.runId;
  // Ticks run until the ledger knows the run ended (or well past the run, which is a failure to see it).
  for (let tick = 0; tick < (options.runSeconds / options.tickSeconds) * 4 + 10; tick++) {
    const jitter = options.jitterSeconds * options.random();
    nowMs = START + (phaseSeconds + tick * options.tickSeconds + jitter) * 1000;
    await sweep(deps);
    const record = await ledger.get(runId);
    if (record !== undefined && record.status !== 'RUNNING' && record.status !== 'STARTING') {
      return { gets, delaySeconds: (Date.parse(record.finishedAt ?? '') - finishesAt) / 1000 };
    }
  }
  return { gets, delaySeconds: Number.POSITIVE_INFINITY };
}

/** Follows one run per phase and reports the worst case. */
export async function simulateEconomy(options: EconomyOptions = {}): Promise<EconomyResult> {
  const tickSeconds = options.tickSeconds ?? 60;
  const phases = options.phases ?? 120;
  const full = {
    runSeconds: options.runSeconds ?? 3600,
    tickSeconds,
    jitterSeconds: options.jitterSeconds ?? 0,
    random: options.random ?? seededRandom(42),
    settings: { ...DEFAULT_SETTINGS, ...options.settings },
  };
  let maxGets = 0;
  let minGets = Number.POSITIVE_INFINITY;
  let maxDelaySeconds = 0;
  for (let i = 0; i < phases; i++) {
    // Phases in (0, period]: the first tick comes after the start.
    const phase = ((i + 0.5) / phases) * tickSeconds;
    const { gets, delaySeconds } = await followOneRun(phase, full);
    maxGets = Math.max(maxGets, gets);
    minGets = Math.min(minGets, gets);
    maxDelaySeconds = Math.max(maxDelaySeconds, delaySeconds);
  }
  return { maxGets, minGets, maxDelaySeconds, phases };
}
