import { CONCURRENCY_POLICIES } from '../../shared/core/run-record.ts';
import type { Command } from '../command-context.ts';
import { choiceOption, listOption, secondsOption, stringOption, variablesOption } from '../option-values.ts';
import { startAndMaybeWait } from './start-command.ts';
import { INTERVAL_OPTION, WAIT_OPTION } from './wait-options.ts';

export const runCommand: Command = {
  spec: {
    name: 'run',
    summary: 'start a notebook run (with --wait, follow it to its end)',
    usage:
      'run --project P --notebook N [--var K=V]… [--spec S] [--timeout S] [--key K] [--docker D] [--wait]',
    remote: true,
    details: [
      'Sends a run request (POST /runs). Without --key a fresh Idempotency-Key is sent, so a retried',
      'request cannot start twice; with --key K, running the same command again answers the same run.',
    ],
    options: [
      {
        name: 'project',
        short: 'p',
        type: 'string',
        value: 'P',
        required: true,
        description: 'DataSphere project id',
      },
      {
        name: 'notebook',
        short: 'n',
        type: 'string',
        value: 'N',
        required: true,
        description: 'notebook path in the project storage',
      },
      { name: 'var', type: 'string', value: 'K=V', multiple: true, description: 'input variable of the run' },
      {
        name: 'output',
        type: 'string',
        value: 'NAME',
        multiple: true,
        description: 'output variable name to return',
      },
      { name: 'spec', type: 'string', value: 'S', description: 'VM configuration, e.g. c1.4' },
      { name: 'timeout', type: 'string', value: 'S', description: 'deadline: seconds, or 90m, 6h, 2d' },
      {
        name: 'key',
        type: 'string',
        value: 'K',
        description: 'idempotency key: the same key never starts twice',
      },
      {
        name: 'docker',
        type: 'string',
        value: 'D',
        description: 'activate this Docker image in the project first',
      },
      {
        name: 'concurrency',
        type: 'string',
        value: 'POLICY',
        description: 'allow, skip, queue or replace, when a run of this notebook is running',
      },
      WAIT_OPTION,
      INTERVAL_OPTION,
    ],
    examples: [
      'datasphere-runner run -p demo-project -n /home/jupyter/datasphere/project/daily_report.ipynb --wait',
      'datasphere-runner run -p demo-project -n nb.ipynb --var REPORT_DATE=2025-06-01 --timeout 2h --key nightly-2025-06-01',
    ],
  },
  run(context) {
    const v = context.values;
    const inputVariables = variablesOption(v, 'var');
    const outputVariableNames = listOption(v, 'output');
    const timeoutSeconds = secondsOption(v, 'timeout');
    const spec = stringOption(v, 'spec');
    const dockerId = stringOption(v, 'docker');
    const concurrency = choiceOption(v, 'concurrency', CONCURRENCY_POLICIES);
    return startAndMaybeWait(context, {
      projectId: stringOption(v, 'project'),
      notebookId: stringOption(v, 'notebook'),
      ...(inputVariables === undefined ? {} : { inputVariables }),
      ...(outputVariableNames.length === 0 ? {} : { outputVariableNames }),
      ...(spec === undefined ? {} : { spec }),
      ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
      ...(dockerId === undefined ? {} : { dockerId }),
      ...(concurrency === undefined ? {} : { concurrency }),
    });
  },
};
