/**
 * The Yandex Cloud timer cron format (platform.md §7), evaluated in UTC:
 * `Minutes Hours Day-of-month Month Day-of-week [Year]`, no seconds field, `?` in exactly one of
 * day-of-month and day-of-week, day-of-week numbered Quartz-style (1 = SUN … 7 = SAT).
 *
 * We parse and validate every field ourselves (so that errors name the field and the value), then
 * hand `croner` a canonical 7-part pattern (`0 <minutes> <hours> <dom> <month> <dow> <year>`)
 * made only of `*`, plain number lists, the year range `1970-2099` and croner's `L`, `LW`, `nW`,
 * `n#k`, `n#L` forms, with standard weekday numbers (0 = SUN). croner does the calendar work: month
 * lengths, leap years, `L`/`W`/`#` and the next/previous searches, which skip whole fields instead
 * of walking minutes. What croner's own syntax does differently (`0/15` refused, `L` alone in
 * day-of-week refused, 0 = SUN, `?` as `*` with OR logic, years 1-9999) never reaches it.
 */
import { Cron } from 'croner';
import { ConfigError } from '../errors.ts';

/** A parsed Yandex cron expression. All methods work on whole UTC minutes. */
export interface YandexCron {
  /** The expression as given (trimmed). */
  readonly expression: string;
  /** True when the UTC minute containing `minute` is a scheduled minute (seconds are ignored). */
  matches(minute: Date): boolean;
  /**
   * The latest scheduled minute at or before `now` (the minute containing `now` counts), or
   * `undefined` when the schedule has none (e.g. `now` is before its first year).
   *
   * Bound: the search is exact, not limited to a window, because it is cheap at any distance:
   * croner's backward search jumps field by field (year, month, day, hour, minute) instead of
   * walking minutes, and years stop at 1970. Measured on Node 20: ≈0.02 ms for a slot minutes or a
   * year back, ≈0.13 ms for the previous 29 February, ≈0.07 ms to find that there is none.
   */
  latestAtOrBefore(now: Date): Date | undefined;
  /** The first scheduled minute strictly after `d`, or `undefined` when there is none (past 2099). */
  nextAfter(d: Date): Date | undefined;
}

/** The longest expression Yandex accepts. */
export const MAX_CRON_LENGTH = 100;

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names for the values min, min+1, … (upper case). */
  readonly names?: readonly string[];
  /** What a valid value looks like, for errors. */
  readonly expected: string;
  /** Appended to out-of-range errors. */
  readonly rangeHint?: string;
}

const MINUTES: FieldSpec = { name: 'minutes', min: 0, max: 59, expected: 'a number 0-59' };
const HOURS: FieldSpec = { name: 'hours', min: 0, max: 23, expected: 'a number 0-23' };
const DAY_OF_MONTH: FieldSpec = { name: 'day-of-month', min: 1, max: 31, expected: 'a number 1-31' };
const MONTH: FieldSpec = {
  name: 'month',
  min: 1,
  max: 12,
  names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  expected: 'a month (1-12 or JAN-DEC)',
};
const DAY_OF_WEEK: FieldSpec = {
  name: 'day-of-week',
  min: 1,
  max: 7,
  names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'],
  expected: 'a day of the week (1-7 or SUN-SAT)',
  rangeHint: ' (1 = SUN, 2 = MON … 7 = SAT)',
};
const YEAR: FieldSpec = { name: 'year', min: 1970, max: 2099, expected: 'a year 1970-2099' };

/** A problem in one field; turned into a ConfigError naming the setting and the expression. */
class FieldProblem extends Error {}

const MINUTE_MS = 60_000;

/**
 * Parses a Yandex cron expression.
 *
 * @param expr the expression, e.g. `0 3 ? * * *` (5 fields: the year is optional)
 * @param setting what to name in errors, e.g. `jobs.nightly-train.schedule`
 * @throws ConfigError `<setting>: "<expr>": <problem>`, the problem naming the field and value
 */
export function parseYandexCron(expr: string, setting = 'schedule'): YandexCron {
  if (typeof expr !== 'string') {
    throw new ConfigError(setting, `must be a string, got ${describeType(expr)}`);
  }
  const expression = expr.trim();
  const fail = (problem: string): never => {
    throw new ConfigError(setting, `${JSON.stringify(shorten(expression))}: ${problem}`);
  };
  let pattern: string;
  try {
    pattern = toCronerPattern(expression);
  } catch (error) {
    if (error instanceof FieldProblem) return fail(error.message);
    throw error;
  }
  let cron: Cron;
  try {
    cron = new Cron(pattern, {
      // Plain arithmetic UTC: no Intl time zone lookups, and independent of the process's TZ.
      utcOffset: 0,
      // `?` becomes `*`; with AND logic the other day field alone decides, as in Quartz.
      domAndDow: true,
      mode: '7-part',
      paused: true,
    });
  } catch (error) {
    // Our validation should leave croner nothing to refuse; if it does, still name the setting.
    return fail(`not supported (${(error as Error).message})`);
  }
  // A schedule that can never fire is a mistake worth failing the build for (e.g. `31 2`).
  if (cron.nextRun(new Date(Date.UTC(YEAR.min, 0, 1) - MINUTE_MS)) === null) {
    fail(`never matches any minute from ${YEAR.min} to ${YEAR.max}`);
  }
  return {
    expression,
    matches: (minute) => cron.match(new Date(floorToMinute(minute))),
    latestAtOrBefore: (now) => {
      const minute = new Date(floorToMinute(now));
      if (cron.match(minute)) return minute;
      // previousRuns answers runs strictly before the reference.
      return cron.previousRuns(1, minute)[0];
    },
    nextAfter: (d) => cron.nextRun(new Date(floorToMinute(d))) ?? undefined,
  };
}

/** The start of the UTC minute containing `d` (ms since epoch). */
export function floorToMinute(d: Date): number {
  const ms = d.getTime();
  if (Number.isNaN(ms)) throw new RangeError('invalid Date');
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

function toCronerPattern(expression: string): string {
  if (expression === '') throw new FieldProblem('is empty');
  if (expression.length > MAX_CRON_LENGTH) {
    throw new FieldProblem(`is ${expression.length} characters long; at most ${MAX_CRON_LENGTH} are allowed`);
  }
  const fields = expression.split(/\s+/);
  if (fields.length < 5 || fields.length > 6) {
    const seconds = fields.length === 7 ? ' (there is no seconds field)' : '';
    throw new FieldProblem(
      `has ${fields.length} field${fields.length === 1 ? '' : 's'}; expected 5 or 6: ` +
        `Minutes Hours Day-of-month Month Day-of-week [Year]${seconds}`,
    );
  }
  const [minutes = '', hours = '', dom = '', month = '', dow = '', year = '*'] = fields;
  const domIsAny = dom === '?';
  const dowIsAny = dow === '?';
  const parts = [
    '0',
    numbers(minutes, MINUTES),
    numbers(hours, HOURS),
    domIsAny ? '*' : dayOfMonth(dom),
    numbers(month, MONTH),
    dowIsAny ? '*' : dayOfWeek(dow),
    // An empty or `*` year means 1970-2099 here too, not croner's 1-9999.
    year === '*' ? `${YEAR.min}-${YEAR.max}` : numbers(year, YEAR),
  ];
  // Checked after the fields so that a bad value is reported before the `?` rule.
  if (domIsAny && dowIsAny) throw new FieldProblem('only one of day-of-month and day-of-week may be "?"');
  if (!domIsAny && !dowIsAny) throw new FieldProblem('one of day-of-month and day-of-week must be "?"');
  return parts.join(' ');
}

/** A plain field (lists, ranges, steps, names) as croner's `*` or a comma list of numbers. */
function numbers(field: string, spec: FieldSpec): string {
  if (field === '*') return '*';
  if (field === '?') {
    throw new FieldProblem(`${spec.name}: "?" is only allowed in day-of-month or day-of-week`);
  }
  const values = new Set<number>();
  const items = field.split(',');
  for (const item of items) {
    if (item === '') throw new FieldProblem(`${spec.name}: empty element in list ${JSON.stringify(field)}`);
    if (items.length > 1 && (item === '*' || item === '?')) {
      throw new FieldProblem(`${spec.name}: "${item}" cannot be combined with other values`);
    }
    const [base = '', step, ...extra] = item.split('/');
    if (extra.length > 0)
      throw new FieldProblem(`${spec.name}: ${JSON.stringify(item)} has more than one "/"`);
    let from: number;
    let to: number;
    if (base === '*') {
      from = spec.min;
      to = spec.max;
    } else if (base.includes('-')) {
      const [start = '', end = '', ...more] = base.split('-');
      if (start === '' || end === '' || more.length > 0) {
        throw new FieldProblem(`${spec.name}: ${JSON.stringify(base)} is not a range (start-end)`);
      }
      from = value(start, spec);
      to = value(end, spec);
      if (from > to) {
        throw new FieldProblem(
          `${spec.name}: range ${JSON.stringify(base)} runs backwards (start after end)`,
        );
      }
    } else {
      from = value(base, spec);
      // Quartz: `a/n` means from a to the end of the field in steps of n (`0/15` = 0, 15, 30, 45).
      to = step === undefined ? from : spec.max;
    }
    const by = step === undefined ? 1 : stepOf(step, spec);
    for (let v = from; v <= to; v += by) values.add(v);
  }
  return [...values].sort((a, b) => a - b).join(',');
}

function stepOf(step: string, spec: FieldSpec): number {
  const span = spec.max - spec.min + 1;
  const n = /^\d+$/.test(step) ? Number(step) : Number.NaN;
  if (!(n >= 1 && n <= span)) {
    throw new FieldProblem(
      `${spec.name}: step ${JSON.stringify(step)} must be a whole number from 1 to ${span}`,
    );
  }
  return n;
}

/** One number or name, range-checked. */
function value(token: string, spec: FieldSpec): number {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    if (n < spec.min || n > spec.max) {
      throw new FieldProblem(
        `${spec.name}: ${token} is out of range ${spec.min}-${spec.max}${spec.rangeHint ?? ''}`,
      );
    }
    return n;
  }
  const index = spec.names?.indexOf(token.toUpperCase()) ?? -1;
  if (index >= 0) return spec.min + index;
  throw new FieldProblem(`${spec.name}: ${JSON.stringify(token)} is not ${spec.expected}`);
}

/**
 * Day-of-month: plain values, or `L` (last day), `LW` (last weekday), `nW` (the weekday nearest day
 * n, never crossing into another month: `1W` on a Saturday the 1st is Monday the 3rd; in a month
 * without day n, `nW` does not fire, like a plain `n`).
 */
function dayOfMonth(field: string): string {
  const upper = field.toUpperCase();
  if (upper === 'L' || upper === 'LW') return upper;
  const nearest = /^(\d+)W$/i.exec(field);
  if (nearest) return `${value(nearest[1] ?? '', DAY_OF_MONTH)}W`;
  if (/[LW]/i.test(field)) {
    throw new FieldProblem(
      `day-of-month: ${JSON.stringify(field)}: L and W must stand alone, as L, LW or a single day with W (15W)`,
    );
  }
  return numbers(field, DAY_OF_MONTH);
}

/**
 * Day-of-week, Quartz numbering (1 = SUN), translated to croner's standard numbering (0 = SUN):
 * plain values; `L` alone (= 7, Saturday, as Yandex documents); `dL` (last weekday d of the
 * month, Quartz); `d#k` (k-th weekday d of the month, k 1-5).
 */
function dayOfWeek(field: string): string {
  if (field.toUpperCase() === 'L') return String(DAY_OF_WEEK.max - 1);
  const last = /^(\w+)L$/i.exec(field);
  if (last) return `${value(last[1] ?? '', DAY_OF_WEEK) - 1}#L`;
  const nth = /^(\w+)#(\w+)$/.exec(field);
  if (nth) {
    const day = value(nth[1] ?? '', DAY_OF_WEEK);
    const k = nth[2] ?? '';
    if (!/^[1-5]$/.test(k)) {
      throw new FieldProblem(`day-of-week: ${JSON.stringify(field)}: the occurrence after "#" must be 1-5`);
    }
    return `${day - 1}#${k}`;
  }
  if (/[L#]/i.test(field)) {
    throw new FieldProblem(
      `day-of-week: ${JSON.stringify(field)}: L and # must stand alone, as L, a single day with L (6L) or with # (6#3)`,
    );
  }
  const quartz = numbers(field, DAY_OF_WEEK);
  return quartz === '*'
    ? quartz
    : quartz
        .split(',')
        .map((d) => Number(d) - 1)
        .join(',');
}

function shorten(text: string): string {
  return text.length > MAX_CRON_LENGTH ? `${text.slice(0, 40)}…` : text;
}

function describeType(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v;
}
