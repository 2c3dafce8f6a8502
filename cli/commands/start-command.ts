/**
 * `run` and `open`: send a run request to `POST /runs` with an Idempotency-Key (the one given with
 * `--key`, else a fresh one, so that the CLI's own retry of a dropped request cannot start twice),
 * print the run, and with `--wait` follow it to its end.
 */
import { type OptionSpec, PROGRAM } from '../arguments.ts';
import type { CommandContext } from '../command-context.ts';
import { EXIT, type ExitCode } from '../exit-codes.ts';
import { flag, stringOption } from '../option-values.ts';
import { isFinal, subjectOf } from '../remote-run.ts';
import { type FieldOptions, withOptionNames } from '../request-fields.ts';
import type { ServiceClient } from '../service-client.ts';
import { followToEnd } from './follow-to-end.ts';

/** The options `run` and `open` share; `--key` is read here, by `startAndMaybeWait`. */
export const PROJECT_OPTION: OptionSpec = {
  name: 'project',
  short: 'p',
  type: 'string',
  value: 'P',
  required: true,
  description: 'DataSphere project id',
};

export const TIMEOUT_OPTION: OptionSpec = {
  name: 'timeout',
  type: 'string',
  value: 'S',
  description: 'deadline: seconds, or 90m, 6h, 2d',
};

export const KEY_OPTION: OptionSpec = {
  name: 'key',
  type: 'string',
  value: 'K',
  description: 'idempotency key: the same key never starts twice',
};

/** The request fields those options set, to name them in a 400's problems. */
const SHARED_FIELD_OPTIONS: FieldOptions = {
  projectId: '--project',
  timeoutSeconds: '--timeout',
  idempotencyKey: '--key',
};

export async function startAndMaybeWait(
  context: CommandContext,
  body: Readonly<Record<string, unknown>>,
  /** Which option sets each request field besides the shared ones, to name it in a 400's problems. */
  fieldOptions: FieldOptions = {},
): Promise<ExitCode> {
  const key = stringOption(context.values, 'key') ?? `cli-${context.io.randomUUID()}`;
  let answer: Awaited<ReturnType<ServiceClient['startRun']>>;
  try {
    answer = await context.client().startRun(body, key);
  } catch (error) {
    throw withOptionNames(error, { ...SHARED_FIELD_OPTIONS, ...fieldOptions });
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
