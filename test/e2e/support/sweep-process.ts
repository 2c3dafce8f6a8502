/**
 * A sweep in a check process of its own, for the tests that interrupt one (kill the process or the
 * store under it): started, and waited for until it has ended some runs.
 */
import { timerEvent } from '../../../local/cloud-events.ts';
import type { InvokeResult } from '../../../local/platform.ts';
import type { FunctionProcess } from './function-process.ts';
import { eventually, type Harness } from './harness.ts';

export interface SweepUnderWay {
  readonly sweeper: FunctionProcess;
  /** The sweep's invocation (it fails, or throws, when interrupted). */
  readonly sweeping: Promise<InvokeResult>;
  /** How many runs it has ended so far ("run status changed" lines of its process). */
  ended(): number;
}

/** Starts a sweep in a new check process and waits until it has ended `endings` runs. */
export async function sweepUnderWay(h: Harness, endings: number): Promise<SweepUnderWay> {
  const sweeper = await h.spawn('check');
  const ended = () =>
    h.logs.entries.filter((e) => e.source === sweeper.source && e.json?.msg === 'run status changed').length;
  const sweeping = sweeper.invoke(timerEvent());
  await eventually('the sweep to be under way', () => ended() >= endings, { intervalMs: 5 });
  return { sweeper, sweeping, ended };
}
