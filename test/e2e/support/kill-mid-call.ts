/**
 * A function process killed (SIGKILL) while its start call to the API is in flight: the emulator holds
 * back its answers to that call, the test waits until the call has reached the API, then kills the
 * process. The operation exists in DataSphere; the ledger holds only the STARTING claim.
 */
import assert from 'node:assert/strict';
import { timerEvent } from '../../../local/cloud-events.ts';
import type { EmulatedOperation } from '../../../local/emulator/emulator.ts';
import type { InvokeResult } from '../../../local/platform.ts';
import { eventually, type Harness, type Json, PROJECT } from './harness.ts';
import { claimedRunId } from './run-waits.ts';

/** Holds back (3 s) the emulator's answers to POSTs to `path`, e.g. `/projects/p:execute`. */
function holdBackAnswers(h: Harness, path: string): void {
  h.emulator.inject({ kind: 'latency', latencyMs: 3000, method: 'POST', path });
}

export interface KilledStartOptions {
  /** The run request sent to `POST /execute`. */
  readonly body: Json;
  /** The API path of the start call to hold back (`/projects/p:execute`, `/projects/p/open`). */
  readonly apiPath: string;
  /** What reached the API, for the failure message. */
  readonly what: string;
  /** The operation the start call created, once the emulator has it. */
  readonly operation: () => EmulatedOperation | undefined;
  /** Which "run claimed" line is the run's. */
  readonly claimed: (line: Json) => boolean;
}

/**
 * Starts a run in an execute process of its own and kills it once its start call reached the API;
 * asserts it never answered and that the run is STARTING without an operation id. The run and the
 * operation it left behind.
 */
export async function startKilledMidCall(
  h: Harness,
  options: KilledStartOptions,
): Promise<{ runId: string; operation: EmulatedOperation }> {
  holdBackAnswers(h, options.apiPath);
  const starter = await h.spawn('execute');
  const call = starter.invokeHttp('POST', '/execute', options.body);
  const operation = await eventually(options.what, options.operation);
  await starter.kill();
  assert.equal((await call).ok, false, 'the starter was killed before it answered');
  const runId = await claimedRunId(h, options.claimed);
  const record = (await h.check(runId)).json as Json;
  assert.equal(record.status, 'STARTING', JSON.stringify(record));
  assert.equal(record.operationId, undefined, 'the ledger never learnt the operation id');
  return { runId, operation };
}

/**
 * A sweep in a check process of its own, killed once `reached()` says the Execute it sends in PROJECT
 * (held back) arrived. The killed sweep's result.
 */
export async function sweepKilledMidExecute(
  h: Harness,
  what: string,
  reached: () => boolean,
): Promise<InvokeResult> {
  holdBackAnswers(h, `/projects/${PROJECT}:execute`);
  const sweeper = await h.spawn('check');
  const sweeping = sweeper.invoke(timerEvent());
  await eventually(what, reached, { intervalMs: 5 });
  await sweeper.kill();
  return sweeping;
}
