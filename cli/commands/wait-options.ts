import type { OptionSpec } from '../arguments.ts';

export const WAIT_OPTION: OptionSpec = {
  name: 'wait',
  short: 'w',
  type: 'boolean',
  description: 'follow the run to its end; the exit code tells how it ended',
};

export const INTERVAL_OPTION: OptionSpec = {
  name: 'interval',
  type: 'string',
  value: 'SECONDS',
  description: 'seconds between status checks while waiting (default 5)',
};
