import { rpcCodeName } from '../api/rpc-codes.ts';
import { isRunnerError } from '../errors.ts';

/**
 * The label a failed API call is counted under: the google.rpc code name the API answered (`NOT_FOUND`,
 * `UNAVAILABLE`…), else `HTTP_<status>` for an answer without one, else the product error code
 * (`API_TIMEOUT`, `API_UNREACHABLE`, `API_BAD_RESPONSE`, `AUTH_UNAVAILABLE`…), `ABORTED` when the
 * invocation's time ran out, `INTERNAL` for anything else. A closed, short set: each value becomes a
 * label value, so it must never carry a message or an id.
 */
export function callErrorCode(error: unknown): string {
  const facts = (typeof error === 'object' && error !== null ? error : {}) as {
    rpcName?: unknown;
    rpcCode?: unknown;
    httpStatus?: unknown;
    name?: unknown;
  };
  if (typeof facts.rpcName === 'string' && /^[A-Z][A-Z0-9_]{0,31}$/.test(facts.rpcName)) return facts.rpcName;
  if (typeof facts.rpcCode === 'number' && Number.isInteger(facts.rpcCode)) {
    const name = rpcCodeName(facts.rpcCode);
    if (/^[A-Z][A-Z0-9_]{0,31}$/.test(name)) return name;
  }
  if (typeof facts.httpStatus === 'number' && Number.isInteger(facts.httpStatus)) {
    return `HTTP_${facts.httpStatus}`;
  }
  if (isRunnerError(error)) return error.code;
  if (facts.name === 'AbortError' || facts.name === 'TimeoutError') return 'ABORTED';
  return 'INTERNAL';
}
