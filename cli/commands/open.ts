import type { Command } from '../command-context.ts';
import { secondsOption, stringOption } from '../option-values.ts';
import { KEY_OPTION, PROJECT_OPTION, startAndMaybeWait, TIMEOUT_OPTION } from './start-command.ts';
import { INTERVAL_OPTION, WAIT_OPTION } from './wait-options.ts';

export const openCommand: Command = {
  spec: {
    name: 'open',
    summary: 'open a project (Project.Open), followed like a run',
    usage: 'open --project P [--timeout S] [--key K] [--wait]',
    remote: true,
    details: ['Sends {"action": "open", "projectId": P}; when it ends, the run carries the project URL.'],
    options: [PROJECT_OPTION, TIMEOUT_OPTION, KEY_OPTION, WAIT_OPTION, INTERVAL_OPTION],
    examples: ['datasphere-runner open --project demo-project --wait'],
  },
  run(context) {
    const timeoutSeconds = secondsOption(context.values, 'timeout');
    return startAndMaybeWait(context, {
      action: 'open',
      projectId: stringOption(context.values, 'project'),
      ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
    });
  },
};
