/**
 * Follows one run to its end: reads its status every `intervalMs` (each read of a running run makes
 * the service refresh it from the Operation API), tells the view, and returns the final record.
 * A failed read that may pass (no answer, a 5xx) is shown and tried again, up to `maxFailures` in a
 * row; a refusal (unknown run, no access) ends the wait at once. Ctrl-C ends the wait, not the run.
 *
 * A retried run (`retry` in the request) is followed to its last attempt, so that the outcome (and the
 * exit code) is the run's, not its first attempt's: an attempt that ended with its retry due
 * (`retryAt`) is read again until the next attempt has started (`retriedBy`: followed from then on) or
 * the retry was stopped (`retryAt` gone: its status is the outcome).
 */
import type { CliIo } from './cli-io.ts';
import type { ProgressView } from './progress-view.ts';
import { isFinal, nextAttemptId, type RemoteRun, retryDueAt } from './remote-run.ts';
import { InterruptedError, type ServiceClient, ServiceError } from './service-client.ts';

export interface FollowOptions {
  readonly client: ServiceClient;
  readonly io: Pick<CliIo, 'sleep' | 'interrupt'>;
  readonly view: ProgressView;
  readonly intervalMs: number;
  /** Failed reads in a row before giving up (exit 3). @default 10 */
  readonly maxFailures?: number;
  /**
   * How long a next attempt named by `retriedBy` may answer 404 before giving up. A sweep names it as
   * it takes the retry on, a moment before it creates it; when that sweep dies in between, the next
   * one creates it once the start lease (START_RECOVERY_SECONDS, 120 s by default) is over.
   * @default 300000
   */
  readonly unseenAttemptMs?: number;
}

export type FollowOutcome =
  | { readonly kind: 'final'; readonly run: RemoteRun }
  /** `run`: the last record read; `following`: the run being read (a next attempt not yet seen). */
  | { readonly kind: 'interrupted'; readonly run: RemoteRun; readonly following: string };

export async function followRun(first: RemoteRun, options: FollowOptions): Promise<FollowOutcome> {
  const { client, io, view, intervalMs } = options;
  const maxFailures = options.maxFailures ?? 10;
  const maxUnseen = Math.max(maxFailures, Math.ceil((options.unseenAttemptMs ?? 300_000) / intervalMs));
  let run = first;
  /** The run read next: `run`, or the attempt after it once it started. */
  let following = first.runId;
  let polls = 0;
  let failures = 0;
  let unseen = 0;
  let fresh = true;
  for (;;) {
    let readNow = false;
    if (fresh) {
      fresh = false;
      const next = nextAttemptId(run);
      if (next !== undefined) {
        view.nextAttempt(run, next);
        following = next;
        polls = 0;
        // The next attempt is already running: read it at once.
        readNow = true;
      } else if (retryDueAt(run) !== undefined) {
        view.retryDue(run, polls);
      } else if (isFinal(run)) {
        view.finish(run, polls);
        return { kind: 'final', run };
      } else {
        view.update(run, polls);
      }
    }
    if (!readNow) await pause(intervalMs, view, io);
    if (io.interrupt.aborted) break;
    let next: RemoteRun;
    try {
      next = await client.getRun(following);
    } catch (error) {
      if (error instanceof InterruptedError) break;
      const notYet = following !== run.runId && error instanceof ServiceError && error.details.status === 404;
      if (notYet) {
        if (++unseen >= maxUnseen) throw error;
        view.problem(`its next attempt (run ${following}) cannot be read yet`);
        continue;
      }
      const passing = error instanceof ServiceError && error.kind !== 'refused';
      if (!passing || ++failures >= maxFailures) throw error;
      view.problem(error.message);
      continue;
    }
    polls++;
    failures = 0;
    unseen = 0;
    run = next;
    fresh = true;
  }
  view.stop();
  return { kind: 'interrupted', run, following };
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
