import type { Command } from '../command-context.ts';
import { EXIT } from '../exit-codes.ts';
import { runDetails } from '../run-format.ts';

export const statusCommand: Command = {
  spec: {
    name: 'status',
    summary: "show a run's status (refreshed from DataSphere while it runs)",
    usage: 'status RUN',
    remote: true,
    positionals: ['RUN'],
    details: ['Exit code 0 whenever the run was found, whatever its status; use watch to wait for the end.'],
    options: [],
    examples: [
      'datasphere-runner status 9c6078ec-0ac9-5caa-8a63-3ba9130a0646',
      'datasphere-runner status RUN --json | jq -r .status',
    ],
  },
  async run(context) {
    const run = await context.client().getRun(context.positionals[0] ?? '');
    if (context.json) context.printJson(run);
    else for (const line of runDetails(run, context.style, context.io.now())) context.line(line);
    return EXIT.OK;
  },
};
