/**
 * `run` and `open`: send a run request to `POST /runs` with an Idempotency-Key (the one given with
 * `--key`, else a fresh one, so that the CLI's own retry of a dropped request cannot start twice),
 * print the run, and with `--wait` follow it to its end.
 */
import { PROGRAM } from '../arguments.ts';
import type { CommandContext } from '../command-context.ts';
import { EXIT, type ExitCode } from '../exit-codes.ts';
import { flag, stringOption } from '../option-values.ts';
import { isFinal, subjectOf } from '../remote-run.ts';
import { type FieldOptions, withOptionNames } from '../request-fields.ts';
import type { ServiceClient } from '../service-client.ts';
import { followToEnd } from './follow-to-end.ts';

export async function startAndMaybeWait(
  context: CommandContext,
  body: Readonly<Record<string, unknown>>,
  /** Which option sets each request field, to name it in a 400's problems. */
  fieldOptions: FieldOptions = {},
): Promise<ExitCode> {
  const key = stringOption(context.values, 'key') ?? `cli-${context.io.randomUUID()}`;
  let answer: Awaited<ReturnType<ServiceClient['startRun']>>;
  try {
    answer = await context.client().startRun(body, key);
  } catch (error) {
    throw withOptionNames(error, fieldOptions);
  }
  const { run, replayed } = answer;
  const wait = flag(context.values, 'wait');
  if (wait) {
    if (!context.json) {
      context.line(
        replayed
          ? `run ${run.runId} was already started with this key; following it`
          : `started run ${run.runId}`,
      );
    }
    return followToEnd(context, run);
  }
  if (context.json) {
    context.printJson(run);
  } else {
    const what = replayed ? 'already started with this key' : 'started';
    context.line(`run ${context.style.bold(run.runId)} ${what}: ${context.style.status(run.status)}`);
    context.line(`  ${context.style.dim(subjectOf(run))}`);
    if (!isFinal(run)) context.line(`  follow it: ${PROGRAM} watch ${run.runId}`);
  }
  // Without --wait the command's job is the start; a start that ended at once (refused) is not a success.
  return isFinal(run) && run.status !== 'SUCCEEDED' ? EXIT.RUN_NOT_SUCCEEDED : EXIT.OK;
}
