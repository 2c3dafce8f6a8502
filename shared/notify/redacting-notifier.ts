import { isRunnerError, RunnerError } from '../errors.ts';
import type { Redactor } from '../redact.ts';
import type { Notifier } from './notifier.ts';

/**
 * A notifier that carries no secret the instance holds, in either direction: the report sent to a
 * webhook or a queue is scrubbed by value, and so is the text of a failed delivery (a receiver may
 * echo a secret back), before the core stores it as the delivery's `lastError` and cuts it to length
 * (a cut secret could no longer be found by value).
 */
export function redactingNotifier(notifier: Notifier, redactor: Redactor): Notifier {
  return {
    destinations: notifier.destinations,
    async deliver(name, notification, signal) {
      try {
        await notifier.deliver(name, redactor.deep(notification), signal);
      } catch (error) {
        const message = redactor.text(error instanceof Error ? error.message : String(error));
        if (!isRunnerError(error)) throw new RunnerError('NOTIFY_ERROR', message, { cause: error });
        throw new RunnerError(error.code, message, {
          cause: error,
          ...(error.details === undefined ? {} : { details: redactor.deep(error.details) }),
        });
      }
    },
  };
}
