// The one table `npm run bench` prints (and writes as markdown to bench/results.md): metric, value,
// budget, verdict. A row without a budget is information; a row that could not be measured says so
// and neither passes nor fails.

export type Verdict = 'pass' | 'FAIL' | 'not measured' | '';

export interface Row {
  readonly metric: string;
  readonly value: string;
  readonly budget: string;
  readonly verdict: Verdict;
}

/** A row checked against a bound: `≤` an upper one, `≥` a lower one. `value` undefined = not measured (with `why`). */
function checked(
  sign: '≤' | '≥',
  metric: string,
  value: number | undefined,
  limit: number,
  format: (n: number) => string,
  why: string,
): Row {
  const budget = `${sign} ${format(limit)}`;
  if (value === undefined || !Number.isFinite(value))
    return { metric, value: why, budget, verdict: 'not measured' };
  const passes = sign === '≤' ? value <= limit : value >= limit;
  return { metric, value: format(value), budget, verdict: passes ? 'pass' : 'FAIL' };
}

/** A row checked against an upper bound. `value` undefined = not measured (with `why`). */
export const bounded = (
  metric: string,
  value: number | undefined,
  limit: number,
  format: (n: number) => string,
  why = 'not measured',
): Row => checked('≤', metric, value, limit, format, why);

/** A row checked against a lower bound (e.g. "at least 2.4× below the SDK"). */
export const atLeast = (
  metric: string,
  value: number | undefined,
  limit: number,
  format: (n: number) => string,
  why = 'not measured',
): Row => checked('≥', metric, value, limit, format, why);

export function info(metric: string, value: string): Row {
  return { metric, value, budget: '', verdict: '' };
}

const HEADERS = ['metric', 'value', 'budget', 'result'] as const;

function cells(row: Row): string[] {
  return [row.metric, row.value, row.budget, row.verdict];
}

/** Plain-text table for the terminal. */
export function textTable(rows: readonly Row[]): string {
  const all = [[...HEADERS], ...rows.map(cells)];
  const widths = HEADERS.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(all[0] ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join(
    '\n',
  );
}

/** GitHub markdown table. */
export function markdownTable(rows: readonly Row[]): string {
  const escapeCell = (c: string) => c.replaceAll('|', '\\|');
  const out = [`| ${HEADERS.join(' | ')} |`, '|---|---:|---:|---|'];
  for (const row of rows) out.push(`| ${cells(row).map(escapeCell).join(' | ')} |`);
  return out.join('\n');
}

export const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;
export const mInstr = (n: number): string => `${n >= 0 ? '+' : ''}${(n / 1e6).toFixed(0)} M`;
export const ms = (n: number): string => `${n.toFixed(0)} ms`;
export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
export const times = (n: number): string => `${n.toFixed(2)}×`;
export const seconds = (n: number): string => `${n.toFixed(1)} s`;
export const count = (n: number): string => n.toFixed(0);
