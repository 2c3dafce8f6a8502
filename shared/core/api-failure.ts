import { isRunnerError } from '../errors.ts';

/**
 * An API answer of NOT_FOUND (google.rpc code 5, or a bare 404). Right after a start, Operation.Get
 * may say so for a while (replica lag): callers give it NOT_FOUND_GRACE_SECONDS before it counts.
 */
export function isNotFound(error: unknown): boolean {
  const e = error as { rpcCode?: unknown; httpStatus?: unknown };
  return isRunnerError(error) && (e.rpcCode === 5 || (e.rpcCode === undefined && e.httpStatus === 404));
}
