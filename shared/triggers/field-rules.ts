import type { FieldProblem } from '../errors.ts';

/**
 * The wording of every request rule, in one place, so the same rule reads the same on every field:
 * a type error says the type it got (`must be an integer, got a string`), a range error the range
 * (`must be between 1 and 10, got 0`), a length error the length. Each check returns the problem, or
 * undefined when the value passes; callers collect problems so that a request with several wrong
 * fields is answered with all of them.
 */

/** How a value is named in a message: `a string`, `an integer`... (the JSON type, never the value). */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return Number.isInteger(value) ? 'an integer' : 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

/** A short quotation of what the caller sent (strings quoted and cut; never more than 40 characters). */
export function quote(value: unknown): string {
  if (typeof value !== 'string') return String(value);
  const cut = value.length > 40 ? `${value.slice(0, 39)}…` : value;
  return JSON.stringify(cut);
}

export const REQUIRED = 'is required';

export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function objectProblem(value: unknown): string | undefined {
  return isPlainObject(value) ? undefined : `must be an object, got ${typeName(value)}`;
}

export function arrayProblem(value: unknown): string | undefined {
  return Array.isArray(value) ? undefined : `must be an array, got ${typeName(value)}`;
}

export function stringProblem(value: unknown): string | undefined {
  return typeof value === 'string' ? undefined : `must be a string, got ${typeName(value)}`;
}

/** Length in characters (UTF-16 code units, as every limit of the Yandex APIs counts them). */
export function lengthProblem(value: string, min: number, max: number): string | undefined {
  if (value.length >= min && value.length <= max) return undefined;
  return `must be ${min} to ${max} characters long, got ${value.length}`;
}

/** Size in UTF-8 bytes, as the value travels and is stored. */
export function bytesProblem(bytes: number, max: number): string | undefined {
  return bytes <= max ? undefined : `must be at most ${max} bytes (UTF-8), got ${bytes}`;
}

export function integerProblem(value: unknown): string | undefined {
  if (typeof value !== 'number') return `must be an integer, got ${typeName(value)}`;
  return Number.isInteger(value) ? undefined : `must be an integer, got ${value}`;
}

export function numberProblem(value: unknown): string | undefined {
  if (typeof value !== 'number') return `must be a number, got ${typeName(value)}`;
  return Number.isFinite(value) ? undefined : `must be a finite number, got ${value}`;
}

export function rangeProblem(value: number, min: number, max: number): string | undefined {
  return value >= min && value <= max ? undefined : `must be between ${min} and ${max}, got ${value}`;
}

/** An integer in `min..max`: the type first, then the range. */
export function integerInRange(value: unknown, min: number, max: number): string | undefined {
  return integerProblem(value) ?? rangeProblem(value as number, min, max);
}

/** A number in `min..max`. */
export function numberInRange(value: unknown, min: number, max: number): string | undefined {
  return numberProblem(value) ?? rangeProblem(value as number, min, max);
}

export function oneOfProblem(value: unknown, choices: readonly string[]): string | undefined {
  if (typeof value === 'string' && choices.includes(value)) return undefined;
  const list = choices.map((choice) => `"${choice}"`).join(', ');
  const got = typeof value === 'string' ? quote(value) : typeName(value);
  return `must be one of ${list}, got ${got}`;
}

// Whitespace, control and invisible format characters (BOM, zero-width space): never part of an id, and
// a copy-paste artefact when present. An id that carries them is refused, never trimmed, so that what is
// stored and sent is exactly what was asked.
const NOT_IN_ID = /[\s\p{Cc}\p{Cf}]/u;
const AT_EDGES = /^[\s\p{Cf}]|[\s\p{Cf}]$/u;
const CONTROL = /\p{Cc}/u;

/** An identifier: a string of `min..max` characters without whitespace or invisible characters. */
export function idProblem(value: unknown, min: number, max: number): string | undefined {
  const problem = stringProblem(value) ?? lengthProblem(value as string, min, max);
  if (problem !== undefined) return problem;
  return NOT_IN_ID.test(value as string) ? 'must not contain whitespace or invisible characters' : undefined;
}

/** A path or name that may contain inner spaces, but not at its ends and no control characters. */
export function textProblem(value: unknown, min: number, max: number): string | undefined {
  const problem = stringProblem(value) ?? lengthProblem(value as string, min, max);
  if (problem !== undefined) return problem;
  if (AT_EDGES.test(value as string)) return 'must not begin or end with whitespace or invisible characters';
  return CONTROL.test(value as string) ? 'must not contain control characters' : undefined;
}

/** Collects the problems of one request; `prefix` is prepended to every field (`jobs.nightly.run`). */
export class ProblemList {
  readonly problems: FieldProblem[] = [];
  constructor(private readonly prefix: string) {}

  /** The full name of `field` (`retry.attempts` → `jobs.nightly.run.retry.attempts`). */
  name(field: string): string {
    return [this.prefix, field].filter((part) => part !== '').join('.');
  }

  /** Records `problem` (when there is one) on `field`; returns whether the field passed. */
  check(field: string, problem: string | undefined): boolean {
    if (problem === undefined) return true;
    this.problems.push({ field: this.name(field), problem });
    return false;
  }
}
