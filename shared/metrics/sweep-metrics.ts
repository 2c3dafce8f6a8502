import type { CoreDeps } from '../core/ports.ts';
import type { MetricsSink } from './monitoring-writer.ts';
import { SweepFigureCollector } from './sweep-figures.ts';

/** One sweep's metrics: the deps to sweep with, and `finish` to write what they saw. */
export interface SweepMetrics {
  readonly deps: CoreDeps;
  /** Writes the figures (once); resolves when the write is done or given up, never rejects. */
  finish(completed: boolean): Promise<void>;
}

/**
 * Wraps one sweep: with a sink, the sweep runs on instrumented deps and `finish` sends one write; with
 * none (metrics not configured) the deps are returned untouched and nothing is sent. The write is not
 * tied to the invocation's deadline signal: it has its own bound (METRICS_TIMEOUT_MS ≤ 5 s, less than
 * the 5 s margin that signal leaves), so a sweep that stopped for lack of time still reports it.
 */
export function startSweepMetrics(sink: MetricsSink | undefined, deps: CoreDeps): SweepMetrics {
  if (sink === undefined) return { deps, finish: async () => {} };
  const collector = new SweepFigureCollector(deps.now);
  let finished = false;
  return {
    deps: collector.instrument(deps),
    async finish(completed) {
      if (finished) return;
      finished = true;
      try {
        await sink.write(collector.figures(completed));
      } catch (error) {
        // A sink never throws; this guards the sweep against a bug in one.
        deps.log.warn('metrics write failed; the sweep goes on', { error });
      }
    },
  };
}
