/**
 * Colours for a person at a terminal, nothing for pipes and files. Uses node's own `util.styleText`
 * (no dependency); whether to colour is decided here, since Node 20's styleText always emits codes.
 * Honours NO_COLOR (https://no-color.org), FORCE_COLOR and TERM=dumb.
 */
import { styleText } from 'node:util';
import type { RunStatus } from '../shared/core/run-record.ts';
import type { TextSink } from './cli-io.ts';

type Format = Parameters<typeof styleText>[0];

export interface Style {
  readonly enabled: boolean;
  paint(format: Format, text: string): string;
  /** A run status in its colour: green success, red failure, yellow cancelled, cyan in progress. */
  status(status: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

export function colourWanted(
  sink: TextSink,
  env: Readonly<Record<string, string | undefined>>,
  noColorFlag: boolean,
): boolean {
  if (noColorFlag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  return sink.isTTY === true && env.TERM !== 'dumb';
}

const STATUS_FORMAT: Readonly<Record<RunStatus, Format>> = {
  STARTING: 'blue',
  QUEUED: 'blue',
  RUNNING: 'cyan',
  SUCCEEDED: 'green',
  FAILED: 'red',
  CANCELLED: 'yellow',
  TIMED_OUT: 'red',
};

export function createStyle(enabled: boolean): Style {
  const paint = (format: Format, text: string) => (enabled ? styleText(format, text) : text);
  return {
    enabled,
    paint,
    status: (status) => {
      const format = STATUS_FORMAT[status as RunStatus];
      return format === undefined ? status : paint(format, status);
    },
    dim: (text) => paint('dim', text),
    bold: (text) => paint('bold', text),
  };
}
