import { cancelRun } from '../../shared/core/cancel-run.ts';
import { toPublicRun } from '../../shared/core/public-run.ts';
import { isRunnerError } from '../../shared/errors.ts';
import { createFunctionRuntime, type FunctionRuntime } from '../../shared/function-runtime.ts';
import { createEntryHandler } from '../../shared/triggers/entry-points.ts';
import { bodyJson, requireMethod, runLookup } from '../../shared/triggers/http-request.ts';
import { jsonResult } from '../../shared/triggers/http-response.ts';
import { runBatch } from '../../shared/triggers/invocation.ts';
import { parseMessageJson } from '../../shared/triggers/message-json.ts';
import { queueMessageParts } from '../../shared/triggers/trigger-event.ts';

/** cancel: cancels a run on request, over HTTP or from a queue message `{"runId": …}`. */
export function createHandler(runtime: FunctionRuntime) {
  return createEntryHandler('cancel', runtime, {
    async http(request, { deps, signal }) {
      requireMethod(request, 'POST');
      const record = await cancelRun(runLookup(request, bodyJson(request)), deps(), signal);
      return jsonResult(202, toPublicRun(record));
    },
    queue(messages, { deps, signal }) {
      const log = deps().log;
      return runBatch(
        log,
        'cancel queue',
        messages.map((message, index) => ({
          id: message.details.message?.message_id ?? message.event_metadata.event_id,
          work: async () => {
            const { body } = queueMessageParts(message, index);
            const value = parseMessageJson(body, `messages.${index}.details.message.body`);
            try {
              const record = await cancelRun(runLookup({ httpMethod: 'POST' }, value), deps(), signal);
              log.info('cancel handled', { runId: record.runId, status: record.status });
            } catch (error) {
              // A redelivered (or late) cancel of a run that has ended: nothing to do, nothing wrong.
              if (!isRunnerError(error) || error.code !== 'RUN_ALREADY_FINISHED') throw error;
              const run = error.details?.run as { runId?: string; status?: string } | undefined;
              log.info('cancel message dropped: the run has already finished', {
                messageId: message.details.message?.message_id ?? message.event_metadata.event_id,
                runId: run?.runId,
                status: run?.status,
              });
            }
          },
        })),
      );
    },
  });
}

export const handler = createHandler(createFunctionRuntime(process.env));
