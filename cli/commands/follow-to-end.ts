/**
 * Waiting for a run from a command (`run --wait`, `open --wait`, `watch`, `cancel --wait`): the
 * progress view, Ctrl-C, and the exit code of the ending.
 */
import { PROGRAM } from '../arguments.ts';
import type { CommandContext } from '../command-context.ts';
import { EXIT, type ExitCode } from '../exit-codes.ts';
import { followRun } from '../follow-run.ts';
import { decimalSecondsOption } from '../option-values.ts';
import { createProgressView } from '../progress-view.ts';
import { attemptOf, type RemoteRun, retryDueAt } from '../remote-run.ts';
import { formatTime } from '../run-format.ts';

export async function followToEnd(
  context: CommandContext,
  first: RemoteRun,
  /** The status that counts as success (exit 0); any other ending is exit 1. */
  wanted: string = 'SUCCEEDED',
): Promise<ExitCode> {
  const intervalMs = decimalSecondsOption(context.values, 'interval', 5, 0.1) * 1000;
  const view = createProgressView({
    out: context.out,
    style: context.style,
    now: context.io.now,
    json: context.json,
  });
  const outcome = await followRun(first, { client: context.client(), io: context.io, view, intervalMs });
  if (outcome.kind === 'interrupted') {
    const { run, following } = outcome;
    const due = retryDueAt(run);
    const where =
      following !== run.runId
        ? `attempt ${attemptOf(run) + 1} of run ${run.runId} is run ${following} and goes on.`
        : due !== undefined
          ? `run ${run.runId} ended ${run.status}; its attempt ${attemptOf(run) + 1} is due at ${formatTime(due)} and goes on.`
          : `run ${run.runId} is still ${run.status} and goes on.`;
    context.err.write(`stopped waiting; ${where}\n  follow it again: ${PROGRAM} watch ${following}\n`);
    return EXIT.INTERRUPTED;
  }
  // For a retried run, the record of its last attempt: the run's outcome.
  return outcome.run.status === wanted ? EXIT.OK : EXIT.RUN_NOT_SUCCEEDED;
}
