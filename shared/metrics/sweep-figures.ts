import type { CoreDeps, NotifierPort, SweepObserver } from '../core/ports.ts';
import { FINAL_STATUSES, type RunRecord, type RunStatus } from '../core/run-record.ts';
import { callErrorCode } from './call-error-code.ts';

/**
 * The figures of one sweep, drawn only from what the sweep read and did (no extra ledger reads):
 *
 * - `open`: the due runs the sweep read that are still STARTING/QUEUED/RUNNING after its check, by
 *   status. The sweep reads only runs that are due, so this is "the open runs the sweep saw", not every
 *   open run: a run started less than CHECK_FIRST_DELAY_SECONDS ago, a start still in progress, queued
 *   runs and runs beyond SWEEP_LIMIT are not in it (docs/metrics.md says when this equals all of them).
 * - `started`: runs the sweep checked for the first time (RUNNING with no check yet), i.e. runs that
 *   started since the previous sweeps. A run that ends before its first sweep check is not counted here.
 * - `ended`: runs whose ending this sweep made or first settled: RUNNING → final in this sweep, or a run
 *   that ended elsewhere (a start that failed, a cancel, a status call) and that no sweep has touched
 *   since (`nextCheckAt` still equals `finishedAt`, as `finished()` leaves it). `durationsSeconds` holds
 *   their durations (startedAt, else createdAt, to finishedAt).
 * - API calls the sweep made (DataSphere and Operation ports), by call and, for failures, by error code;
 *   report deliveries and their failures by destination.
 */
export interface SweepFigures {
  /** When the figures were taken (the end of the sweep). */
  readonly at: Date;
  /** Whether the sweep ran to its end (false: it threw, e.g. the ledger failed). */
  readonly completed: boolean;
  readonly durationMs: number;
  /** Due runs the sweep read. */
  readonly dueRuns: number;
  readonly checkedRuns: number;
  /** Due runs not checked: the check threw, or the sweep ran out of time first. */
  readonly uncheckedRuns: number;
  readonly open: Readonly<Partial<Record<RunStatus, number>>>;
  readonly started: number;
  readonly ended: Readonly<Partial<Record<RunStatus, number>>>;
  readonly durationsSeconds: readonly number[];
  /** `operations.get` → calls made. */
  readonly apiCalls: ReadonlyMap<string, number>;
  /** `operations.get` → error code (`NOT_FOUND`, `HTTP_502`, `API_TIMEOUT`…) → failed calls. */
  readonly apiErrors: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** Every configured destination, with its deliveries in this sweep. */
  readonly notifications: ReadonlyMap<string, { readonly delivered: number; readonly failed: number }>;
}

const OPEN: ReadonlySet<RunStatus> = new Set(['STARTING', 'QUEUED', 'RUNNING']);

function bump<K>(map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/** True when this sweep's view of a run is the one that saw it end (see SweepFigures.ended). */
function endedHere(before: RunRecord, after: RunRecord): boolean {
  if (!FINAL_STATUSES.has(after.status)) return false;
  if (!FINAL_STATUSES.has(before.status)) return true;
  return before.nextCheckAt !== undefined && before.nextCheckAt === before.finishedAt;
}

function durationSeconds(record: RunRecord): number | undefined {
  const from = Date.parse(record.startedAt ?? record.createdAt);
  const to = record.finishedAt === undefined ? Number.NaN : Date.parse(record.finishedAt);
  if (!Number.isFinite(from) || !Number.isFinite(to) || to < from) return undefined;
  return (to - from) / 1000;
}

/**
 * Collects one sweep's figures. `instrument(deps)` returns the deps to sweep with: the same, plus this
 * collector as the sweep observer and the API ports and the notifier wrapped to count calls. Counting
 * never changes what a call does or returns, and never throws.
 */
export class SweepFigureCollector implements SweepObserver {
  private readonly startedAt: number;
  private due = 0;
  private checkedRuns = 0;
  private uncheckedRuns = 0;
  private readonly open = new Map<RunStatus, number>();
  private startedRuns = 0;
  private readonly ended = new Map<RunStatus, number>();
  private readonly durations: number[] = [];
  private readonly apiCalls = new Map<string, number>();
  private readonly apiErrors = new Map<string, Map<string, number>>();
  private readonly notifications = new Map<string, { delivered: number; failed: number }>();

  constructor(private readonly now: () => Date) {
    this.startedAt = now().getTime();
  }

  checked(before: RunRecord, after: RunRecord): void {
    this.due++;
    this.checkedRuns++;
    if (OPEN.has(after.status)) bump(this.open, after.status);
    if (before.status === 'RUNNING' && before.checks === 0) this.startedRuns++;
    if (endedHere(before, after)) {
      bump(this.ended, after.status);
      const seconds = durationSeconds(after);
      if (seconds !== undefined) this.durations.push(seconds);
    }
  }

  unchecked(before: RunRecord): void {
    this.due++;
    this.uncheckedRuns++;
    if (OPEN.has(before.status)) bump(this.open, before.status);
  }

  /** `deps` for the sweep: observed by this collector, with counted API ports and notifier. */
  instrument(deps: CoreDeps): CoreDeps {
    const notifier = deps.notifier === undefined ? undefined : this.countDeliveries(deps.notifier);
    return {
      ...deps,
      datasphere: this.countCalls(deps.datasphere, 'datasphere'),
      operations: this.countCalls(deps.operations, 'operations'),
      ...(notifier === undefined ? {} : { notifier }),
      sweepObserver: this,
    };
  }

  /** The figures so far; `completed` says whether the sweep ran to its end. */
  figures(completed: boolean): SweepFigures {
    const at = this.now();
    const notifications = new Map([...this.notifications].map(([name, counts]) => [name, { ...counts }]));
    return {
      at,
      completed,
      durationMs: Math.max(0, at.getTime() - this.startedAt),
      dueRuns: this.due,
      checkedRuns: this.checkedRuns,
      uncheckedRuns: this.uncheckedRuns,
      open: Object.fromEntries(this.open),
      started: this.startedRuns,
      ended: Object.fromEntries(this.ended),
      durationsSeconds: [...this.durations],
      apiCalls: new Map(this.apiCalls),
      apiErrors: new Map([...this.apiErrors].map(([call, codes]) => [call, new Map(codes)])),
      notifications,
    };
  }

  /**
   * The same port with every method counted as `<port>.<method>`. A Proxy rather than a hand-written
   * wrapper, so a method the API module adds later (Open, Activate…) is counted without a change here.
   */
  private countCalls<T extends object>(port: T, name: string): T {
    const calls = this.apiCalls;
    const errors = this.apiErrors;
    return new Proxy(port, {
      get(target, key, receiver) {
        const value: unknown = Reflect.get(target, key, receiver);
        if (typeof value !== 'function' || typeof key !== 'string') return value;
        const call = `${name}.${key}`;
        const failed = (error: unknown) => {
          let codes = errors.get(call);
          if (codes === undefined) {
            codes = new Map();
            errors.set(call, codes);
          }
          bump(codes, callErrorCode(error));
        };
        // Same call, same result: a promise is observed through `catch`, anything else passes as is.
        return (...args: unknown[]) => {
          bump(calls, call);
          let result: unknown;
          try {
            result = (value as (...a: unknown[]) => unknown).apply(target, args);
          } catch (error) {
            failed(error);
            throw error;
          }
          if (result instanceof Promise) {
            return result.catch((error: unknown) => {
              failed(error);
              throw error;
            });
          }
          return result;
        };
      },
    });
  }

  private countDeliveries(notifier: NotifierPort): NotifierPort {
    for (const name of notifier.destinations) this.notifications.set(name, { delivered: 0, failed: 0 });
    const counts = (name: string) => {
      let entry = this.notifications.get(name);
      if (entry === undefined) {
        entry = { delivered: 0, failed: 0 };
        this.notifications.set(name, entry);
      }
      return entry;
    };
    return {
      destinations: notifier.destinations,
      deliver: async (destination, record, signal) => {
        try {
          await notifier.deliver(destination, record, signal);
          counts(destination).delivered++;
        } catch (error) {
          counts(destination).failed++;
          throw error;
        }
      },
    };
  }
}
