import type { SweepFigures } from './sweep-figures.ts';

/**
 * The body of one Monitoring `data/write` call (docs/metrics.md cites the reference): a common `ts`
 * (RFC 3339) and common labels, and one point per metric. Every point is a DGAUGE: it is the default
 * type in every version of the write reference, while the integer gauge is spelled IGAUGE in some
 * versions and GAUGE in others; counts are exact in a double anyway.
 *
 * Counts are per sweep, and the sweep runs once a minute, so "per sweep" reads as "per minute". They
 * are gauges, not COUNTERs: a COUNTER must grow across writes, which stateless function instances
 * cannot promise.
 */

/** Most metrics one write may carry (Monitoring API limits: 10,000 per import request). */
export const MAX_METRICS_PER_WRITE = 10_000;

/** Labels on every point, so dashboards and alerts select this product's metrics. */
export const COMMON_LABELS: Readonly<Record<string, string>> = { app: 'datasphere-runner' };

/** Every metric name the sweep writes (the dashboard and the alerts use these). */
export const METRIC = {
  /** Open runs the sweep saw, by `status` (STARTING, RUNNING; QUEUED when seen). */
  runsOpen: 'runs.open',
  /** Runs first checked in this sweep (started since the previous sweeps). */
  runsStarted: 'runs.started',
  /** Runs that ended in this sweep, by `status` (SUCCEEDED, FAILED, CANCELLED, TIMED_OUT; zeros sent). */
  runsEnded: 'runs.ended',
  /** Duration of the runs that ended in this sweep, by `stat` (p50, p95, max, sum); absent when none ended. */
  runDuration: 'runs.duration_seconds',
  sweepDueRuns: 'sweep.due_runs',
  sweepCheckedRuns: 'sweep.checked_runs',
  sweepUncheckedRuns: 'sweep.unchecked_runs',
  sweepDuration: 'sweep.duration_seconds',
  /** 1 when the sweep ran to its end, 0 when it failed. */
  sweepCompleted: 'sweep.completed',
  /** API calls made by the sweep, by `call` (`operations.get`…). */
  apiCalls: 'api.calls',
  /** Failed API calls, by `call` and `code` (`NOT_FOUND`, `HTTP_502`, `API_TIMEOUT`…); only non-zero. */
  apiErrors: 'api.errors',
  /** Report deliveries by `destination` (every configured one, zeros sent). */
  notifyDelivered: 'notify.delivered',
  notifyFailures: 'notify.failures',
} as const;

const FINAL = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'] as const;
const ALWAYS_OPEN = ['STARTING', 'RUNNING'] as const;

export interface MonitoringPoint {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly type: 'DGAUGE';
  readonly value: number;
}

export interface MonitoringWriteBody {
  readonly ts: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly metrics: readonly MonitoringPoint[];
}

/** Nearest-rank percentile of sorted values (`p` in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

const round = (value: number) => Math.round(value * 1000) / 1000;

/** The write body for one sweep's figures. */
export function sweepPayload(figures: SweepFigures): MonitoringWriteBody {
  const metrics: MonitoringPoint[] = [];
  const point = (name: string, value: number, labels?: Record<string, string>) => {
    metrics.push({ name, ...(labels === undefined ? {} : { labels }), type: 'DGAUGE', value: round(value) });
  };

  point(METRIC.sweepCompleted, figures.completed ? 1 : 0);
  point(METRIC.sweepDuration, figures.durationMs / 1000);
  point(METRIC.sweepDueRuns, figures.dueRuns);
  point(METRIC.sweepCheckedRuns, figures.checkedRuns);
  point(METRIC.sweepUncheckedRuns, figures.uncheckedRuns);

  const openStatuses = new Set<string>([...ALWAYS_OPEN, ...Object.keys(figures.open)]);
  for (const status of openStatuses) {
    point(METRIC.runsOpen, figures.open[status as keyof typeof figures.open] ?? 0, { status });
  }
  point(METRIC.runsStarted, figures.started);
  for (const status of FINAL) point(METRIC.runsEnded, figures.ended[status] ?? 0, { status });

  if (figures.durationsSeconds.length > 0) {
    const sorted = [...figures.durationsSeconds].sort((a, b) => a - b);
    point(METRIC.runDuration, percentile(sorted, 50), { stat: 'p50' });
    point(METRIC.runDuration, percentile(sorted, 95), { stat: 'p95' });
    point(METRIC.runDuration, sorted.at(-1) as number, { stat: 'max' });
    point(
      METRIC.runDuration,
      sorted.reduce((sum, value) => sum + value, 0),
      { stat: 'sum' },
    );
  }

  for (const [call, count] of figures.apiCalls) point(METRIC.apiCalls, count, { call });
  for (const [call, codes] of figures.apiErrors) {
    for (const [code, count] of codes) point(METRIC.apiErrors, count, { call, code });
  }
  for (const [destination, counts] of figures.notifications) {
    point(METRIC.notifyDelivered, counts.delivered, { destination });
    point(METRIC.notifyFailures, counts.failed, { destination });
  }

  return {
    ts: figures.at.toISOString(),
    labels: COMMON_LABELS,
    // A bound that cannot be reached today (a few dozen points per sweep), kept because a write over
    // the limit would lose every point of the sweep, not only the extra ones.
    metrics: metrics.slice(0, MAX_METRICS_PER_WRITE),
  };
}
