import { getRun } from '../../shared/core/get-run.ts';
import { listRuns } from '../../shared/core/list-runs.ts';
import { toPublicRun } from '../../shared/core/public-run.ts';
import type { RunRequest } from '../../shared/core/run-record.ts';
import { sweep } from '../../shared/core/sweep.ts';
import { createFunctionRuntime, type FunctionRuntime } from '../../shared/function-runtime.ts';
import { createMonitoringSink } from '../../shared/metrics/monitoring-writer.ts';
import { type SweepMetrics, startSweepMetrics } from '../../shared/metrics/sweep-metrics.ts';
import { getEmbeddedJobs } from '../../shared/schedule/embedded-jobs.ts';
import type { JobDefinition } from '../../shared/schedule/jobs-file.ts';
import { consolePageResult, isConsoleRequest } from '../../shared/triggers/console-page.ts';
import { createEntryHandler } from '../../shared/triggers/entry-points.ts';
import { asRunnerError } from '../../shared/triggers/error-response.ts';
import { requireMethod, runLookup } from '../../shared/triggers/http-request.ts';
import { jsonResult } from '../../shared/triggers/http-response.ts';
import { isRunListRequest, parseRunListQuery } from '../../shared/triggers/list-query.ts';

/**
 * check: the per-minute sweep (timer), a run's status, the run history and the web console over HTTP.
 * `jobs`: the jobs that run after another job's run (job chains), which the sweep starts.
 */
export function createHandler(runtime: FunctionRuntime, jobs: readonly JobDefinition<RunRequest>[] = []) {
  return createEntryHandler('check', runtime, {
    // The web console's page holds no data: a browser loads it without credentials (docs/auth.md).
    publicHttp: (request) => (isConsoleRequest(request) ? consolePageResult(request) : undefined),
    async http(request, { deps, signal }) {
      requireMethod(request, 'GET');
      if (isRunListRequest(request)) {
        const query = parseRunListQuery(request);
        return jsonResult(200, await listRuns(query, deps(), signal));
      }
      const record = await getRun(runLookup(request, undefined), deps(), signal);
      return jsonResult(200, toPublicRun(record));
    },
    async timer(_messages, { deps, signal }) {
      // One Monitoring write per sweep, failed or not (nothing when metrics are off); it never throws.
      let metrics: SweepMetrics | undefined;
      try {
        metrics = startSweepMetrics(runtime.metrics(), deps());
        const summary = await sweep({ ...metrics.deps, jobs }, signal);
        await metrics.finish(true);
        return summary;
      } catch (error) {
        await metrics?.finish(false);
        // Throw so the timer's retry (if configured) sweeps again; nothing is lost either way: the next
        // tick sees the same due runs.
        deps().log.error('sweep failed', { error: asRunnerError(error) });
        throw asRunnerError(error);
      }
    },
  });
}

export const handler = createHandler(
  createFunctionRuntime(process.env, { notify: true, metrics: createMonitoringSink }),
  getEmbeddedJobs<RunRequest>(),
);
