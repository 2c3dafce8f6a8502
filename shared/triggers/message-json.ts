import { InvalidRequestError } from '../errors.ts';
import { assertBodySize } from './size-limits.ts';

/**
 * A trigger message body (queue message, timer payload) as JSON. Over the body limit it is
 * REQUEST_TOO_LARGE without being parsed; bad JSON is INVALID_REQUEST on `field`. Neither can ever
 * succeed, so a trigger drops such a message (with a log line) instead of having it redelivered.
 */
export function parseMessageJson(text: string, field: string): unknown {
  assertBodySize(text, field);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidRequestError(field, `is not valid JSON (${(error as Error).message})`);
  }
}
