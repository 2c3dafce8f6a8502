import { CONCURRENCY_POLICIES, RETRYABLE_STATUSES } from '../../shared/core/run-record.ts';
import type { Command } from '../command-context.ts';
import {
  choiceListOption,
  choiceOption,
  listOption,
  OptionReader,
  secondsOption,
  stringOption,
  variablesOption,
  wholeNumberOption,
} from '../option-values.ts';
import type { FieldOptions } from '../request-fields.ts';
import { KEY_OPTION, PROJECT_OPTION, startAndMaybeWait, TIMEOUT_OPTION } from './start-command.ts';
import { INTERVAL_OPTION, WAIT_OPTION } from './wait-options.ts';

/** The option behind each field of the run request (project, timeout, key: start-command), for 400 problems. */
const FIELD_OPTIONS: FieldOptions = {
  notebookId: '--notebook',
  inputVariables: '--var',
  outputVariableNames: '--output',
  spec: '--spec',
  dockerId: '--docker',
  concurrency: '--concurrency',
  retry: '--retry',
  'retry.delaySeconds': '--retry-delay',
  'retry.on': '--retry-on',
};

export const runCommand: Command = {
  spec: {
    name: 'run',
    summary: 'start a notebook run (with --wait, follow it to its end)',
    usage:
      'run --project P --notebook N [--var K=V]… [--spec S] [--timeout S] [--key K] [--docker D] [--retry N [--retry-delay S] [--retry-on STATUSES]] [--wait]',
    remote: true,
    details: [
      'Sends a run request (POST /runs). Without --key a fresh Idempotency-Key is sent, so a retried',
      'request cannot start twice; with --key K, running the same command again answers the same run.',
      'With --retry N, an attempt that ends in --retry-on starts again after the delay (doubled each',
      'time), up to N attempts in all; --wait follows each attempt and exits by the last one.',
    ],
    options: [
      PROJECT_OPTION,
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
      { ...TIMEOUT_OPTION, description: 'deadline (of each attempt): seconds, or 90m, 6h, 2d' },
      KEY_OPTION,
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
      {
        name: 'retry',
        type: 'string',
        value: 'N',
        description: 'attempts in all, 1..10 (retry.attempts): --retry 3 = the run and up to 2 retries',
      },
      {
        name: 'retry-delay',
        type: 'string',
        value: 'S',
        description:
          'wait before the 2nd attempt, doubled for each later one: seconds, or 30s, 5m, 1h (default 60)',
      },
      {
        name: 'retry-on',
        type: 'string',
        value: 'STATUSES',
        multiple: true,
        description: `endings that are retried, comma-separated: ${RETRYABLE_STATUSES.join(', ')} (default FAILED)`,
      },
      WAIT_OPTION,
      INTERVAL_OPTION,
    ],
    examples: [
      'datasphere-runner run -p demo-project -n /home/jupyter/datasphere/project/daily_report.ipynb --wait',
      'datasphere-runner run -p demo-project -n nb.ipynb --var REPORT_DATE=2025-06-01 --timeout 2h --key nightly-2025-06-01',
      'datasphere-runner run -p demo-project -n train.ipynb --retry 3 --retry-delay 5m --retry-on FAILED,TIMED_OUT --wait',
    ],
  },
  run(context) {
    const v = context.values;
    const options = new OptionReader();
    const inputVariables = options.read(() => variablesOption(v, 'var'));
    const outputVariableNames = listOption(v, 'output');
    const timeoutSeconds = options.read(() => secondsOption(v, 'timeout'));
    const spec = stringOption(v, 'spec');
    const dockerId = stringOption(v, 'docker');
    const concurrency = options.read(() => choiceOption(v, 'concurrency', CONCURRENCY_POLICIES));
    const attempts = options.read(() => wholeNumberOption(v, 'retry'));
    const delaySeconds = options.read(() => secondsOption(v, 'retry-delay'));
    const on = options.read(() => choiceListOption(v, 'retry-on', RETRYABLE_STATUSES));
    // The service would take a delay without attempts (and try once): almost surely a forgotten --retry.
    if (stringOption(v, 'retry') === undefined) {
      for (const name of ['retry-delay', 'retry-on']) {
        if (v[name] !== undefined)
          options.problem(`--${name} needs --retry N (the number of attempts in all)`);
      }
    }
    options.done();
    const retry =
      attempts === undefined
        ? undefined
        : {
            attempts,
            ...(delaySeconds === undefined ? {} : { delaySeconds }),
            ...(on === undefined ? {} : { on }),
          };
    return startAndMaybeWait(
      context,
      {
        projectId: stringOption(v, 'project'),
        notebookId: stringOption(v, 'notebook'),
        ...(inputVariables === undefined ? {} : { inputVariables }),
        ...(outputVariableNames.length === 0 ? {} : { outputVariableNames }),
        ...(spec === undefined ? {} : { spec }),
        ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
        ...(dockerId === undefined ? {} : { dockerId }),
        ...(concurrency === undefined ? {} : { concurrency }),
        ...(retry === undefined ? {} : { retry }),
      },
      FIELD_OPTIONS,
    );
  },
};
