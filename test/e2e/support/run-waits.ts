/**
 * Waiting on what the functions did with runs: a run's public record once it is final, the run a
 * "run claimed" line names, the emulated operations of some runs being done.
 */
import { eventually, type Harness, type Json } from './harness.ts';

export const FINAL_STATUSES: ReadonlySet<string> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);

/** Timer ticks (execute + check) until `GET /check` answers a final status; that record. */
export function finalRecord(h: Harness, runId: string): Promise<Json> {
  return eventually(
    `run ${runId} to end`,
    async () => {
      await h.platform.tick();
      const record = (await h.check(runId)).json as Json;
      return FINAL_STATUSES.has(record.status) ? record : undefined;
    },
    { describe: () => h.logs.tail() },
  );
}

/** The runId of the first "run claimed" line matching `where`, once one is logged. */
export async function claimedRunId(h: Harness, where: (line: Json) => boolean): Promise<string> {
  const line = await eventually('the "run claimed" line', () => h.logs.lines('run claimed').find(where));
  return line.runId as string;
}

/** Until every emulated operation with one of these ids is done. */
export function operationsDone(h: Harness, ids: ReadonlySet<string>): Promise<true> {
  return eventually('every operation to end', () =>
    h.emulator
      .operations()
      .filter((op) => ids.has(op.id))
      .every((op) => op.done),
  );
}
