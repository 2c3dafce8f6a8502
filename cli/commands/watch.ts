import type { Command } from '../command-context.ts';
import { followToEnd } from './follow-to-end.ts';
import { INTERVAL_OPTION } from './wait-options.ts';

export const watchCommand: Command = {
  spec: {
    name: 'watch',
    summary: 'follow a run to its end (exit 0 SUCCEEDED, 1 otherwise)',
    usage: 'watch RUN [--interval SECONDS]',
    remote: true,
    positionals: ['RUN'],
    details: [
      'On a terminal: a live status line (status, elapsed time, checks). In a pipe: one line per change.',
      'With --json: one JSON record per change. Ctrl-C stops watching; the run goes on.',
    ],
    options: [INTERVAL_OPTION],
    examples: ['datasphere-runner watch 9c6078ec-0ac9-5caa-8a63-3ba9130a0646'],
  },
  async run(context) {
    const run = await context.client().getRun(context.positionals[0] ?? '');
    return followToEnd(context, run);
  },
};
