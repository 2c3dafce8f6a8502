import { type AnyMessage, type Operation, openResultOf } from '../api/protojson.ts';
import type { RunAction, RunError, RunRecord, RunStatus } from './run-record.ts';

/**
 * What an Operation says about a run (design.md §5, api.md §3):
 * - not done: still running; an `error` while not done is recorded but not final (the service is
 *   rolling back; python-sdk waits for `done` too);
 * - done + error code 1 (CANCELLED) → CANCELLED; done + other error → FAILED;
 * - done + response: executionStatus OK → SUCCEEDED, ERROR → FAILED, ABORTED → CANCELLED;
 * - done with neither, or an unknown status → FAILED with a message saying the result is unknown.
 * Open and Activate have no executionStatus (design.md §4): done + response is SUCCEEDED, with
 * `result: {projectUrl}` for an Open (the session token never gets this far: it is dropped while the
 * operation is decoded, shared/api/protojson.ts).
 */
export type OperationOutcome =
  | { readonly done: false; readonly earlyError?: RunError }
  | {
      readonly done: true;
      readonly status: Exclude<RunStatus, 'STARTING' | 'RUNNING' | 'TIMED_OUT'>;
      readonly executionStatus?: string;
      readonly error?: RunError;
      readonly result?: NonNullable<RunRecord['result']>;
    };

const NAMES = ['EXECUTION_STATUS_UNSPECIFIED', 'OK', 'ERROR', 'ABORTED'];

/** `executionStatus` of an Execute response as its enum name (ints accepted, like ProtoJSON input). */
export function executionStatusOf(response: AnyMessage | undefined): string | undefined {
  const raw = response?.executionStatus;
  if (typeof raw === 'number') return NAMES[raw] ?? String(raw);
  return typeof raw === 'string' ? raw : undefined;
}

export function outcomeOf(
  operation: Operation<AnyMessage, AnyMessage>,
  action: RunAction = 'execute',
): OperationOutcome {
  const error =
    operation.error === undefined
      ? undefined
      : { code: operation.error.code, message: operation.error.message };
  if (!operation.done) return error === undefined ? { done: false } : { done: false, earlyError: error };
  if (error !== undefined) {
    return { done: true, status: error.code === 1 ? 'CANCELLED' : 'FAILED', error };
  }
  if (action !== 'execute') return actionOutcome(operation, action);
  const executionStatus = executionStatusOf(operation.response);
  switch (executionStatus) {
    case 'OK':
      return { done: true, status: 'SUCCEEDED', executionStatus };
    case 'ERROR':
      return {
        done: true,
        status: 'FAILED',
        executionStatus,
        error: { code: 'EXECUTION_ERROR', message: 'the notebook run ended with executionStatus ERROR' },
      };
    case 'ABORTED':
      return { done: true, status: 'CANCELLED', executionStatus };
    default:
      return {
        done: true,
        status: 'FAILED',
        ...(executionStatus === undefined ? {} : { executionStatus }),
        error: {
          code: 'RESULT_UNKNOWN',
          message: `the operation finished without a known result (executionStatus ${executionStatus ?? 'absent'})`,
        },
      };
  }
}

/** A done Open or Activate without an error (design.md §5): what it returned decides only `result`. */
function actionOutcome(
  operation: Operation<AnyMessage, AnyMessage>,
  action: Exclude<RunAction, 'execute'>,
): OperationOutcome {
  if (operation.response === undefined) {
    return {
      done: true,
      status: 'FAILED',
      error: { code: 'RESULT_UNKNOWN', message: 'the operation finished without a response or an error' },
    };
  }
  if (action === 'activate') return { done: true, status: 'SUCCEEDED' };
  const opened = openResultOf(operation);
  const projectUrl = opened === undefined ? undefined : shownUrl(opened.projectUrl);
  return { done: true, status: 'SUCCEEDED', ...(projectUrl === undefined ? {} : { result: { projectUrl } }) };
}

/** Query parameter names that carry a credential (the IDE takes the session token as one). */
const CREDENTIAL_PARAM = /token|session|secret|password|passwd|signature|sig$|key|auth|credential/i;

/**
 * The project URL as it may be stored and shown: the real API passes the session token beside the URL,
 * never inside it, but should a URL ever carry a credential (userinfo, a token-like query parameter)
 * that part is removed rather than kept in a record that is logged, listed and posted to webhooks.
 * A URL that does not parse, or is not http(s), is not kept at all.
 */
export function shownUrl(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
  const credentialed =
    parsed.username !== '' ||
    parsed.password !== '' ||
    [...parsed.searchParams.keys()].some((name) => CREDENTIAL_PARAM.test(name)) ||
    CREDENTIAL_PARAM.test(parsed.hash);
  if (!credentialed) return url;
  parsed.username = '';
  parsed.password = '';
  if (CREDENTIAL_PARAM.test(parsed.hash)) parsed.hash = '';
  for (const name of [...parsed.searchParams.keys()]) {
    if (CREDENTIAL_PARAM.test(name)) parsed.searchParams.delete(name);
  }
  return parsed.toString();
}

/** The record fields a finished outcome sets (only those present: optional fields are never `undefined`). */
export function outcomeFields(outcome: Extract<OperationOutcome, { done: true }>): {
  operationDone: true;
  executionStatus?: string;
  error?: RunError;
  result?: NonNullable<RunRecord['result']>;
} {
  return {
    operationDone: true,
    ...(outcome.executionStatus === undefined ? {} : { executionStatus: outcome.executionStatus }),
    ...(outcome.error === undefined ? {} : { error: outcome.error }),
    ...(outcome.result === undefined ? {} : { result: outcome.result }),
  };
}
