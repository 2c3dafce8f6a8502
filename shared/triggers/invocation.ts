import type { Logger } from '../log.ts';
import { asRunnerError, isTransient, policyOf } from './error-response.ts';
import { errorResult, type HttpResult } from './http-response.ts';
import { classifyEvent, type TriggerEvent } from './trigger-event.ts';

/**
 * Runs an HTTP invocation: any throw becomes a JSON error answer with the status of the one error
 * table, logged at that table's level. Nothing escapes: an unhandled throw would make the platform
 * answer 502 with the stack trace.
 */
export async function answerHttp(log: Logger, work: () => Promise<HttpResult>): Promise<HttpResult> {
  try {
    return await work();
  } catch (error) {
    const policy = policyOf(error);
    log[policy.level]('request failed', {
      code: policy.code,
      status: policy.status,
      error: asRunnerError(error),
    });
    return errorResult(error);
  }
}

export interface BatchItem {
  /** `message_id` / `event_id`, named in every log line about it. */
  readonly id: string;
  readonly work: () => Promise<void>;
}

/**
 * Runs each message of a trigger batch. A message that can never succeed (bad JSON, invalid request,
 * project not allowed...) is logged with its id and dropped; a transient failure does not stop the
 * other messages, and is rethrown at the end so the platform redelivers the batch (deduplication makes
 * the messages already handled no-ops).
 */
export async function runBatch(
  log: Logger,
  kind: string,
  items: readonly BatchItem[],
): Promise<BatchSummary> {
  let transient: unknown;
  let dropped = 0;
  let done = 0;
  for (const item of items) {
    try {
      await item.work();
      done++;
    } catch (error) {
      const policy = policyOf(error);
      if (isTransient(error)) {
        log.error(`${kind} message failed; the batch will be redelivered`, {
          messageId: item.id,
          error: asRunnerError(error),
        });
        transient ??= error;
      } else {
        dropped++;
        log.error(`${kind} message dropped: it can never succeed`, {
          messageId: item.id,
          code: policy.code,
          error: asRunnerError(error),
        });
      }
    }
  }
  if (transient !== undefined) throw asRunnerError(transient);
  return { messages: items.length, done, dropped };
}

export interface BatchSummary {
  readonly messages: number;
  readonly done: number;
  readonly dropped: number;
}

/**
 * Classifies the event; an event that is neither HTTP nor a known trigger can never be processed, so it
 * is logged (with what is wrong) and dropped rather than thrown back for endless redelivery.
 */
export function classifyOrDrop(runtime: { readonly log: Logger }, event: unknown): TriggerEvent | undefined {
  try {
    return classifyEvent(event);
  } catch (error) {
    runtime.log.error('unrecognised event dropped', { error: asRunnerError(error) });
    return undefined;
  }
}
