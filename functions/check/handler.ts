import { getRun } from '../../shared/core/get-run.ts';
import { toPublicRun } from '../../shared/core/public-run.ts';
import { sweep } from '../../shared/core/sweep.ts';
import { createFunctionRuntime, type FunctionRuntime } from '../../shared/function-runtime.ts';
import { createEntryHandler } from '../../shared/triggers/entry-points.ts';
import { asRunnerError } from '../../shared/triggers/error-response.ts';
import { requireMethod, runLookup } from '../../shared/triggers/http-request.ts';
import { jsonResult } from '../../shared/triggers/http-response.ts';

/** check: the per-minute sweep (timer), and a run's status over HTTP. */
export function createHandler(runtime: FunctionRuntime) {
  return createEntryHandler('check', runtime, {
    async http(request, { deps, signal }) {
      requireMethod(request, 'GET');
      const record = await getRun(runLookup(request, undefined), deps(), signal);
      return jsonResult(200, toPublicRun(record));
    },
    async timer(_messages, { deps, signal }) {
      try {
        return await sweep(deps(), signal);
      } catch (error) {
        // Throw so the timer's retry (if configured) sweeps again; nothing is lost either way: the next
        // tick sees the same due runs.
        deps().log.error('sweep failed', { error: asRunnerError(error) });
        throw asRunnerError(error);
      }
    },
  });
}

export const handler = createHandler(createFunctionRuntime(process.env, { notify: true }));
