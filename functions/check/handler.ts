import { getRun } from '../../shared/core/get-run.ts';
import { toPublicRun } from '../../shared/core/public-run.ts';
import { sweep } from '../../shared/core/sweep.ts';
import {
  createFunctionRuntime,
  type FunctionRuntime,
  type InvocationContext,
} from '../../shared/function-runtime.ts';
import { asRunnerError } from '../../shared/triggers/error-response.ts';
import { bodyJson, runLookup } from '../../shared/triggers/http-request.ts';
import { jsonResult } from '../../shared/triggers/http-response.ts';
import { answerHttp, classifyOrDrop } from '../../shared/triggers/invocation.ts';

/** check: the per-minute sweep (timer), and a run's status over HTTP. */
export function createHandler(runtime: FunctionRuntime) {
  return async (event: unknown, context?: InvocationContext): Promise<unknown> => {
    const classified = classifyOrDrop(runtime, event);
    if (classified === undefined) return { dropped: 1 };
    const signal = runtime.deadlineSignal(context);
    if (classified.kind === 'http') {
      const request = classified.event;
      return answerHttp(runtime.log, async () => {
        const deps = runtime.depsFor(context);
        const method = request.httpMethod.toUpperCase();
        const body = method === 'GET' ? undefined : bodyJson(request);
        const record = await getRun(runLookup(request, body), deps, signal);
        return jsonResult(200, toPublicRun(record));
      });
    }
    const deps = runtime.depsFor(context);
    if (classified.kind === 'queue') {
      deps.log.error('check has no queue entry point; batch dropped', {
        messages: classified.messages.length,
      });
      return { dropped: classified.messages.length };
    }
    try {
      return await sweep(deps, signal);
    } catch (error) {
      // Throw so the timer's retry (if configured) runs the sweep again; nothing is lost either way,
      // the next tick sees the same due runs.
      deps.log.error('sweep failed', { error: asRunnerError(error) });
      throw asRunnerError(error);
    }
  };
}

export const handler = createHandler(createFunctionRuntime(process.env, { notify: true }));
