import { cancelRun } from '../../shared/core/cancel-run.ts';
import { toPublicRun } from '../../shared/core/public-run.ts';
import { InvalidRequestError } from '../../shared/errors.ts';
import {
  createFunctionRuntime,
  type FunctionRuntime,
  type InvocationContext,
} from '../../shared/function-runtime.ts';
import { bodyJson, runLookup } from '../../shared/triggers/http-request.ts';
import { jsonResult } from '../../shared/triggers/http-response.ts';
import { answerHttp, classifyOrDrop, runBatch } from '../../shared/triggers/invocation.ts';
import { queueMessageParts } from '../../shared/triggers/trigger-event.ts';

/** cancel: cancels a run on request, over HTTP or from a queue message `{"runId": …}`. */
export function createHandler(runtime: FunctionRuntime) {
  return async (event: unknown, context?: InvocationContext): Promise<unknown> => {
    const classified = classifyOrDrop(runtime, event);
    if (classified === undefined) return { dropped: 1 };
    const signal = runtime.deadlineSignal(context);
    if (classified.kind === 'http') {
      const request = classified.event;
      return answerHttp(runtime.log, async () => {
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
        const record = await cancelRun(
          runLookup(request, bodyJson(request)),
          runtime.depsFor(context),
          signal,
        );
        return jsonResult(202, toPublicRun(record));
      });
    }
    const deps = runtime.depsFor(context);
    if (classified.kind === 'timer') {
      deps.log.error('cancel has no timer entry point; event dropped', {
        messages: classified.messages.length,
      });
      return { dropped: classified.messages.length };
    }
    return runBatch(
      deps.log,
      'cancel queue',
      classified.messages.map((message, index) => ({
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
          const fake = { httpMethod: 'POST' } as const;
          const record = await cancelRun(runLookup(fake, value), deps, signal);
          deps.log.info('cancel handled', { runId: record.runId, status: record.status });
        },
      })),
    );
  };
}

export const handler = createHandler(createFunctionRuntime(process.env));
