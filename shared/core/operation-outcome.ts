import type { AnyMessage, Operation } from '../api/protojson.ts';
import type { RunError, RunStatus } from './run-record.ts';

/**
 * What an Operation says about a run (design.md §5, api.md §3):
 * - not done: still running; an `error` while not done is recorded but not final (the service is
 *   rolling back; python-sdk waits for `done` too);
 * - done + error code 1 (CANCELLED) → CANCELLED; done + other error → FAILED;
 * - done + response: executionStatus OK → SUCCEEDED, ERROR → FAILED, ABORTED → CANCELLED;
 * - done with neither, or an unknown status → FAILED with a message saying the result is unknown.
 */
export type OperationOutcome =
  | { readonly done: false; readonly earlyError?: RunError }
  | {
      readonly done: true;
      readonly status: Exclude<RunStatus, 'STARTING' | 'RUNNING' | 'TIMED_OUT'>;
      readonly executionStatus?: string;
      readonly error?: RunError;
    };

const NAMES = ['EXECUTION_STATUS_UNSPECIFIED', 'OK', 'ERROR', 'ABORTED'];

/** `executionStatus` of an Execute response as its enum name (ints accepted, like ProtoJSON input). */
export function executionStatusOf(response: AnyMessage | undefined): string | undefined {
  const raw = response?.executionStatus;
  if (typeof raw === 'number') return NAMES[raw] ?? String(raw);
  return typeof raw === 'string' ? raw : undefined;
}

export function outcomeOf(operation: Operation<AnyMessage, AnyMessage>): OperationOutcome {
  const error =
    operation.error === undefined
      ? undefined
      : { code: operation.error.code, message: operation.error.message };
  if (!operation.done) return error === undefined ? { done: false } : { done: false, earlyError: error };
  if (error !== undefined) {
    return { done: true, status: error.code === 1 ? 'CANCELLED' : 'FAILED', error };
  }
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

/** The record fields a finished outcome sets (only those present: optional fields are never `undefined`). */
export function outcomeFields(outcome: Extract<OperationOutcome, { done: true }>): {
  operationDone: true;
  executionStatus?: string;
  error?: RunError;
} {
  return {
    operationDone: true,
    ...(outcome.executionStatus === undefined ? {} : { executionStatus: outcome.executionStatus }),
    ...(outcome.error === undefined ? {} : { error: outcome.error }),
  };
}
