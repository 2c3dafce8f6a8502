import { cancelRun } from '../../shared/core/cancel-run.ts';
import { toPublicRun } from '../../shared/core/public-run.ts';
import { InvalidRequestError } from '../../shared/errors.ts';
import { createFunctionRuntime, type FunctionRuntime } from '../../shared/function-runtime.ts';
import { createEntryHandler } from '../../shared/triggers/entry-points.ts';
import { bodyJson, runLookup } from '../../shared/triggers/http-request.ts';
import { jsonResult } from '../../shared/triggers/http-response.ts';
import { runBatch } from '../../shared/triggers/invocation.ts';
import { queueMessageParts } from '../../shared/triggers/trigger-event.ts';

/** cancel: cancels a run on request, over HTTP or from a queue message `{"runId": …}`. */
export function createHandler(runtime: FunctionRuntime) {
  return createEntryHandler('cancel', runtime, {
    async http(request, { deps, signal }) {
      if (request.httpMethod.toUpperCase() !== 'POST') {
        return jsonResult(
          405,
          {
            error: {
              code: 'INVALID_REQUEST',
              message: `method ${request.httpMethod} is not allowed; use POST`,
            },
          },
          { Allow: 'POST' },
        );
      }
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
            let value: unknown;
            try {
              value = JSON.parse(body);
            } catch (error) {
              throw new InvalidRequestError(
                `messages.${index}.details.message.body`,
                `is not valid JSON (${(error as Error).message})`,
              );
            }
            const record = await cancelRun(runLookup({ httpMethod: 'POST' }, value), deps(), signal);
            log.info('cancel handled', { runId: record.runId, status: record.status });
          },
        })),
      );
    },
  });
}

export const handler = createHandler(createFunctionRuntime(process.env));
