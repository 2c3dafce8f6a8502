/**
 * The jobs the build embedded into this bundle. `build.mjs` validates the jobs file with
 * `loadJobsFile` and passes the result to esbuild as `define: { __JOBS__: JSON.stringify(jobs) }`;
 * esbuild turns it into one array literal, so reading it costs no parsing at cold start. Cron
 * expressions are parsed later, when a tick needs them (`tick-plan.ts`).
 */
import type { JobDefinition } from './jobs-file.ts';

declare const __JOBS__: readonly JobDefinition[] | undefined;

/**
 * The embedded jobs, or `[]` when nothing was embedded (tests, tools run from source).
 *
 * The type parameter is trusted, not checked: the build validated each `run` with the run request
 * validator, so the core may ask for `getEmbeddedJobs<RunRequest>()`.
 */
export function getEmbeddedJobs<R = unknown>(): readonly JobDefinition<R>[] {
  return typeof __JOBS__ === 'undefined' ? [] : (__JOBS__ as readonly JobDefinition<R>[]);
}
