import { RunnerError } from '../errors.ts';

/**
 * A `LEDGER_ERROR` naming what failed. `details` must carry only non-secret facts (a path, an action,
 * an error type): they reach logs and error bodies.
 */
export function ledgerError(
  message: string,
  cause?: unknown,
  details?: Readonly<Record<string, unknown>>,
): RunnerError {
  return new RunnerError('LEDGER_ERROR', message, {
    ...(cause === undefined ? {} : { cause }),
    ...(details === undefined ? {} : { details }),
  });
}

/** `code` of a Node system error (`ENOENT`, `EEXIST`...), if it is one. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** A file ledger I/O failure: names the operation, the path and the system error code. */
export function fileError(what: string, path: string, cause: unknown): RunnerError {
  return ledgerError(`file ledger: cannot ${what} ${path}: ${errnoCode(cause) ?? String(cause)}`, cause, {
    path,
  });
}
