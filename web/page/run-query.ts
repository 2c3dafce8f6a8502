// The console's filters, as the list query of GET /runs (design.md §6) and as the page's address
// fragment (so a filtered view can be bookmarked or shared; the credential never goes there). Pure.

/** What a person can filter the list by. Empty strings mean "any". */
export interface Filters {
  /** A status, or a group: `active` (STARTING, QUEUED, RUNNING) or `problem` (FAILED, TIMED_OUT). */
  readonly status: string;
  readonly projectId: string;
  readonly notebookId: string;
  readonly job: string;
  /** A period back from now (`1h`, `24h`, `7d`, `30d`, `90d`, `365d`); ignored when `from` is set. */
  readonly period: string;
  /** Local dates `YYYY-MM-DD`, both days included. */
  readonly from: string;
  readonly to: string;
}

export const NO_FILTERS: Filters = {
  status: '',
  projectId: '',
  notebookId: '',
  job: '',
  period: '',
  from: '',
  to: '',
};

export const FILTER_NAMES = Object.keys(NO_FILTERS) as (keyof Filters)[];

/** The status choices of the filter, in the order the select shows them. */
export const STATUS_GROUPS: Readonly<Record<string, string>> = {
  active: 'STARTING,QUEUED,RUNNING',
  problem: 'FAILED,TIMED_OUT',
};

const PERIOD_MS: Readonly<Record<string, number>> = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
  '90d': 90 * 86_400_000,
  '365d': 365 * 86_400_000,
};
export const PERIODS = Object.keys(PERIOD_MS);

/** Local midnight of a `YYYY-MM-DD` date, `days` days later; undefined when it is not such a date. */
function localMidnight(date: string, days = 0): Date | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (match === null) return undefined;
  const d = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + days);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/**
 * The GET /runs query of `filters` at `now` (without `limit` and `cursor`). A page's cursor is tied to
 * the query that made it, so the caller keeps the query it sent with the cursor it got.
 */
export function listQuery(filters: Filters, now: Date): URLSearchParams {
  const query = new URLSearchParams();
  const status = STATUS_GROUPS[filters.status] ?? filters.status;
  if (status !== '') query.set('status', status);
  for (const name of ['projectId', 'notebookId', 'job'] as const) {
    const value = filters[name].trim();
    if (value !== '') query.set(name, value);
  }
  const from = localMidnight(filters.from);
  const to = localMidnight(filters.to, 1);
  if (from !== undefined) query.set('since', from.toISOString());
  else if (PERIOD_MS[filters.period] !== undefined) {
    query.set('since', new Date(now.getTime() - (PERIOD_MS[filters.period] as number)).toISOString());
  }
  if (to !== undefined) query.set('until', to.toISOString());
  return query;
}

/** Filters from the page address fragment (`#status=FAILED&projectId=p1&run=<id>`). */
export function filtersFromFragment(fragment: string): Filters {
  const params = new URLSearchParams(fragment.replace(/^#/, ''));
  const filters: Record<string, string> = { ...NO_FILTERS };
  for (const name of FILTER_NAMES) filters[name] = params.get(name) ?? '';
  return filters as unknown as Filters;
}

/** The run whose detail the fragment opens, if any. */
export function runFromFragment(fragment: string): string | undefined {
  const run = new URLSearchParams(fragment.replace(/^#/, '')).get('run');
  return run === null || run === '' ? undefined : run;
}

/** The fragment of `filters` (only the ones set) and an open run. */
export function fragmentOf(filters: Filters, runId?: string): string {
  const params = new URLSearchParams();
  for (const name of FILTER_NAMES) if (filters[name] !== '') params.set(name, filters[name]);
  if (runId !== undefined) params.set('run', runId);
  const text = params.toString();
  return text === '' ? '' : `#${text}`;
}
