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
import type { RemoteRun } from '../remote-run.ts';

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
    context.err.write(
      `stopped waiting; run ${outcome.run.runId} is still ${outcome.run.status} and goes on.\n` +
        `  follow it again: ${PROGRAM} watch ${outcome.run.runId}\n`,
    );
    return EXIT.INTERRUPTED;
  }
  return outcome.run.status === wanted ? EXIT.OK : EXIT.RUN_NOT_SUCCEEDED;
}
