/**
 * Follows one run to its end: reads its status every `intervalMs` (each read of a running run makes
 * the service refresh it from the Operation API), tells the view, and returns the final record.
 * A failed read that may pass (no answer, a 5xx) is shown and tried again, up to `maxFailures` in a
 * row; a refusal (unknown run, no access) ends the wait at once. Ctrl-C ends the wait, not the run.
 */
import type { CliIo } from './cli-io.ts';
import type { ProgressView } from './progress-view.ts';
import { isFinal, type RemoteRun } from './remote-run.ts';
import { InterruptedError, type ServiceClient, ServiceError } from './service-client.ts';

export interface FollowOptions {
  readonly client: ServiceClient;
  readonly io: Pick<CliIo, 'sleep' | 'interrupt'>;
  readonly view: ProgressView;
  readonly intervalMs: number;
  /** Failed reads in a row before giving up (exit 3). @default 10 */
  readonly maxFailures?: number;
}

export type FollowOutcome =
  | { readonly kind: 'final'; readonly run: RemoteRun }
  | { readonly kind: 'interrupted'; readonly run: RemoteRun };

export async function followRun(first: RemoteRun, options: FollowOptions): Promise<FollowOutcome> {
  const { client, io, view, intervalMs } = options;
  const maxFailures = options.maxFailures ?? 10;
  let run = first;
  let polls = 0;
  let failures = 0;
  if (isFinal(run)) {
    view.finish(run, polls);
    return { kind: 'final', run };
  }
  view.update(run, polls);
  for (;;) {
    await pause(intervalMs, view, io);
    if (io.interrupt.aborted) break;
    let next: RemoteRun;
    try {
      next = await client.getRun(run.runId);
    } catch (error) {
      if (error instanceof InterruptedError) break;
      const passing = error instanceof ServiceError && error.kind !== 'refused';
      if (!passing || ++failures >= maxFailures) throw error;
      view.problem(error.message);
      continue;
    }
    polls++;
    failures = 0;
    run = next;
    if (isFinal(run)) {
      view.finish(run, polls);
      return { kind: 'final', run };
    }
    view.update(run, polls);
  }
  view.stop();
  return { kind: 'interrupted', run };
}

/** Waits `ms`, redrawing the view every `view.tickMs` (a spinner), and stops early on Ctrl-C. */
async function pause(ms: number, view: ProgressView, io: Pick<CliIo, 'sleep' | 'interrupt'>): Promise<void> {
  const step = view.tickMs;
  if (step === undefined) {
    await io.sleep(ms, io.interrupt);
    return;
  }
  for (let waited = 0; waited < ms && !io.interrupt.aborted; waited += step) {
    await io.sleep(Math.min(step, ms - waited), io.interrupt);
    view.tick();
  }
}
