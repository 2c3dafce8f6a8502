/**
 * Reading typed values out of parsed options, each failure a UsageError naming the option and the
 * expected form.
 */
import { type OptionValues, UsageError } from './arguments.ts';

export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value.trim() : undefined;
}

export function listOption(values: OptionValues, name: string): readonly string[] {
  const value = values[name];
  if (Array.isArray(value)) return value as readonly string[];
  return typeof value === 'string' ? [value] : [];
}

export const flag = (values: OptionValues, name: string): boolean => values[name] === true;

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90`, `90s`, `15m`, `2h`, `1d` as whole seconds. */
export function secondsOption(values: OptionValues, name: string): number | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const match = /^(\d+)([smhd]?)$/.exec(raw);
  if (match === null) {
    throw new UsageError(
      `--${name}: "${raw}" is not a duration (seconds, or a number with s, m, h or d: 90, 15m, 2h)`,
    );
  }
  return Number(match[1]) * (UNITS[match[2] || 's'] ?? 1);
}

/** A number of seconds that may have a fraction (`0.5`), at least `min`. */
export function decimalSecondsOption(
  values: OptionValues,
  name: string,
  fallback: number,
  min: number,
): number {
  const raw = stringOption(values, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw === '' || !Number.isFinite(value) || value < min) {
    throw new UsageError(`--${name}: "${raw}" must be a number of seconds, at least ${min}`);
  }
  return value;
}

/** A whole number, any size: the service says which range it takes (and names the field). */
export function wholeNumberOption(values: OptionValues, name: string): number | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new UsageError(`--${name}: "${raw}" must be a whole number`);
  }
  return Number(raw);
}

/** Comma-separated values of a fixed set, from one or several uses of the option, in the set's spelling. */
export function choiceListOption<T extends string>(
  values: OptionValues,
  name: string,
  choices: readonly T[],
): T[] | undefined {
  const raw = listOption(values, name)
    .flatMap((value) => value.split(','))
    .map((value) => value.trim());
  if (raw.length === 0) return undefined;
  return raw.map((value) => oneOf(value, name, choices));
}

/**
 * Reads a command's options one by one and keeps going past a wrong one, so that a single error names
 * every wrong option (as the service names every wrong field).
 */
export class OptionReader {
  readonly #problems: string[] = [];

  /** The value `parse` reads, or undefined when it refused the option (the problem is kept). */
  read<T>(parse: () => T): T | undefined {
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      this.#problems.push(error.message);
      return undefined;
    }
  }

  /** A problem of the command line as a whole (options that go together). */
  problem(message: string): void {
    this.#problems.push(message);
  }

  /** @throws UsageError naming every problem found, if any. */
  done(): void {
    const problems = this.#problems;
    if (problems.length === 1) throw new UsageError(problems[0] ?? '');
    if (problems.length > 1)
      throw new UsageError(`${problems.length} problems with the options:`, undefined, problems);
  }
}

export function integerOption(
  values: OptionValues,
  name: string,
  range: { readonly min: number; readonly max: number },
): number | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < range.min || Number(raw) > range.max) {
    throw new UsageError(`--${name}: "${raw}" must be a whole number from ${range.min} to ${range.max}`);
  }
  return Number(raw);
}

/** `--var K=V` pairs as an object; a pair without `=` or a name given twice is an error. */
export function variablesOption(values: OptionValues, name: string): Record<string, string> | undefined {
  const pairs = listOption(values, name);
  if (pairs.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    const key = at < 0 ? '' : pair.slice(0, at).trim();
    if (at < 0 || key === '') throw new UsageError(`--${name}: "${pair}" must be NAME=VALUE`);
    if (Object.hasOwn(out, key)) throw new UsageError(`--${name}: ${key} is given twice`);
    out[key] = pair.slice(at + 1);
  }
  return out;
}

/** An ISO time, a date, or an age such as `30m`, `2h`, `7d` (that long before `now`), as ISO. */
export function timeOption(values: OptionValues, name: string, now: Date): string | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const age = /^(\d+)([smhd])$/.exec(raw);
  if (age !== null)
    return new Date(now.getTime() - Number(age[1]) * (UNITS[age[2] ?? 's'] ?? 1) * 1000).toISOString();
  const t = Date.parse(raw);
  if (Number.isNaN(t)) {
    throw new UsageError(
      `--${name}: "${raw}" is not a time (an ISO time like 2025-06-01T12:00:00Z, a date, or an age like 2h, 7d)`,
    );
  }
  return new Date(t).toISOString();
}

/** One value of a fixed set, case-insensitive, given back in the set's spelling. */
export function choiceOption<T extends string>(
  values: OptionValues,
  name: string,
  choices: readonly T[],
): T | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  return oneOf(raw, name, choices);
}

export function oneOf<T extends string>(raw: string, name: string, choices: readonly T[]): T {
  const found = choices.find((c) => c.toLowerCase() === raw.toLowerCase());
  if (found === undefined) throw new UsageError(`--${name}: "${raw}" must be one of ${choices.join(', ')}`);
  return found;
}
