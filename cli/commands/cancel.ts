import type { Command } from '../command-context.ts';
import { EXIT } from '../exit-codes.ts';
import { flag } from '../option-values.ts';
import { isFinal } from '../remote-run.ts';
import { followToEnd } from './follow-to-end.ts';
import { INTERVAL_OPTION, WAIT_OPTION } from './wait-options.ts';

export const cancelCommand: Command = {
  spec: {
    name: 'cancel',
    summary: 'cancel a run (with --wait, until it has stopped)',
    usage: 'cancel RUN [--wait]',
    remote: true,
    positionals: ['RUN'],
    details: [
      'Asks DataSphere to cancel the run; it becomes CANCELLED when the operation has stopped.',
      'A run that has already ended is left as it is (exit 0). With --wait: exit 0 when the run ends',
      'CANCELLED, 1 when it ended otherwise first.',
    ],
    options: [{ ...WAIT_OPTION, description: 'wait until the run has stopped' }, INTERVAL_OPTION],
    examples: ['datasphere-runner cancel 9c6078ec-0ac9-5caa-8a63-3ba9130a0646 --wait'],
  },
  async run(context) {
    const { run, alreadyFinished } = await context.client().cancelRun(context.positionals[0] ?? '');
    if (alreadyFinished || (isFinal(run) && run.cancelRequestedAt === undefined)) {
      if (context.json) context.printJson(run);
      else
        context.line(
          `run ${run.runId} had already ended: ${context.style.status(run.status)}; nothing to cancel`,
        );
      return EXIT.OK;
    }
    if (flag(context.values, 'wait')) {
      if (!context.json) context.line(`cancel requested for run ${run.runId}; waiting for it to stop`);
      return followToEnd(context, run, 'CANCELLED');
    }
    if (context.json) context.printJson(run);
    else if (
      isFinal(run) &&
      run.status !== 'CANCELLED' &&
      run.cancelReason === 'user' &&
      typeof run.attempt === 'number'
    ) {
      // An attempt of a retried run that had ended (its retry due, or not retried): no attempt follows.
      context.line(
        `run ${run.runId} had ended ${context.style.status(run.status)}; its next attempt will not start`,
      );
    } else if (isFinal(run)) context.line(`run ${run.runId} is ${context.style.status(run.status)}`);
    else {
      context.line(`cancel requested for run ${run.runId} (${context.style.status(run.status)});`);
      context.line('  it becomes CANCELLED when DataSphere has stopped it');
    }
    return EXIT.OK;
  },
};
