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

/**
 * A stored record that is not a readable run record (not JSON, or not shaped like one). A LEDGER_ERROR
 * (the run cannot be answered), recognised by `isUnreadableRecord` so that the core can tell "this run's
 * record is damaged" from "the ledger is down".
 */
export class UnreadableRecordError extends RunnerError {
  readonly location: string;
  readonly reason: string;
  readonly runId: string | undefined;
  constructor(location: string, reason: string, runId?: string, cause?: unknown) {
    super('LEDGER_ERROR', `run record ${location} cannot be read: ${reason}`, {
      ...(cause === undefined ? {} : { cause }),
      details: { unreadable: true, location, ...(runId === undefined ? {} : { runId }) },
    });
    this.name = 'UnreadableRecordError';
    this.location = location;
    this.reason = reason;
    this.runId = runId;
  }
}

/** True for an UnreadableRecordError (also one from another copy of this module). */
export function isUnreadableRecord(error: unknown): error is UnreadableRecordError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: unknown }).name === 'UnreadableRecordError' &&
    (error as { details?: { unreadable?: unknown } }).details?.unreadable === true
  );
}
