// The chart's figures, computed in the browser from pages of GET /runs: runs per day by status, and run
// duration p50/p95 per day and over the window. Pure functions (no DOM), tested in test/web.

import { STATUSES } from './run-status.ts';
import type { RunView } from './run-types.ts';

/** Days the chart covers: today and the six before it, in the browser's time zone. */
export const CHART_DAYS = 7;
/** Runs per request while collecting the chart's runs (the API's maximum). */
export const CHART_PAGE_LIMIT = 100;
/**
 * Requests at most per chart: bounds what one look at the page costs (≤ 10 function invocations, ≤ 1,000
 * runs). When the window holds more, the chart says it shows only the newest runs it read.
 */
export const CHART_MAX_PAGES = 10;

export interface DayStats {
  /** Local date, `YYYY-MM-DD`. */
  readonly key: string;
  /** Local midnight that starts the day. */
  readonly start: Date;
  /** Runs created that day, per status. */
  readonly counts: Readonly<Record<string, number>>;
  readonly total: number;
  /** Durations of the day's finished runs, ms, ascending. */
  readonly durations: readonly number[];
  readonly p50: number | undefined;
  readonly p95: number | undefined;
}

export interface RunStats {
  readonly days: readonly DayStats[];
  /** Runs counted (created inside the window). */
  readonly runs: number;
  /** Of those, runs with a duration (finished). */
  readonly finished: number;
  readonly p50: number | undefined;
  readonly p95: number | undefined;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** The local calendar day of `date` as `YYYY-MM-DD`. */
export function localDayKey(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** Local midnight `days - 1` days before `now`'s day: the first instant the chart covers. */
export function windowStart(now: Date, days: number = CHART_DAYS): Date {
  return new Date(now.getFullYear(), now.getMonth(), now.getDate() - (days - 1));
}

/**
 * How long a finished run took: from its start (`startedAt`, else `createdAt`) to `finishedAt`, in ms.
 * Time spent QUEUED before the start is not the notebook's duration, so it is left out when known.
 */
export function durationMs(run: RunView): number | undefined {
  if (run.finishedAt === undefined) return undefined;
  const from = Date.parse(run.startedAt ?? run.createdAt);
  const to = Date.parse(run.finishedAt);
  if (!Number.isFinite(from) || !Number.isFinite(to) || to < from) return undefined;
  return to - from;
}

/** Nearest-rank percentile of ascending `sorted` (`p` in 0..100); undefined for no values. */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Per-day and overall figures of `runs` for the `days` days ending with `now`'s day. */
export function summarizeRuns(runs: readonly RunView[], now: Date, days: number = CHART_DAYS): RunStats {
  const first = windowStart(now, days);
  const buckets = new Map<string, { start: Date; counts: Record<string, number>; durations: number[] }>();
  for (let i = 0; i < days; i++) {
    const start = new Date(first.getFullYear(), first.getMonth(), first.getDate() + i);
    const counts: Record<string, number> = {};
    for (const status of STATUSES) counts[status] = 0;
    buckets.set(localDayKey(start), { start, counts, durations: [] });
  }
  const all: number[] = [];
  let counted = 0;
  for (const run of runs) {
    const created = new Date(run.createdAt);
    const bucket = buckets.get(localDayKey(created));
    if (bucket === undefined) continue;
    counted++;
    bucket.counts[run.status] = (bucket.counts[run.status] ?? 0) + 1;
    const duration = durationMs(run);
    if (duration !== undefined) {
      bucket.durations.push(duration);
      all.push(duration);
    }
  }
  const ascending = (a: number, b: number) => a - b;
  all.sort(ascending);
  const dayStats = [...buckets].map(([key, b]): DayStats => {
    b.durations.sort(ascending);
    return {
      key,
      start: b.start,
      counts: b.counts,
      total: Object.values(b.counts).reduce((sum, n) => sum + n, 0),
      durations: b.durations,
      p50: percentile(b.durations, 50),
      p95: percentile(b.durations, 95),
    };
  });
  return {
    days: dayStats,
    runs: counted,
    finished: all.length,
    p50: percentile(all, 50),
    p95: percentile(all, 95),
  };
}

/** "1 h 05 min", "4 min 12 s", "38 s", "0.4 s": a duration as a person reads it. */
export function formatDuration(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${pad(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${pad(m % 60)} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}
