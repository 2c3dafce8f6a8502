// Fills a run ledger for the sweep benchmarks: records written straight through the ledger API (no
// function invocation per run), running ones pointing at operations the emulator really has.
import { randomUUID } from 'node:crypto';
import type { RunRecord } from '../shared/core/run-record.ts';
import type { RunLedger } from '../shared/ledger/run-ledger.ts';

/** The DataSphere project of every bench run. */
export const PROJECT = 'bench-project';

function base(index: number, createdAt: Date, kind: string): RunRecord {
  const iso = createdAt.toISOString();
  return {
    runId: randomUUID(),
    dedupeKey: `key:bench-${kind}-${index}-${randomUUID()}`,
    requestHash: 'bench',
    request: { projectId: PROJECT, notebookId: `bench/${kind}-${index}.ipynb` },
    trigger: 'http',
    projectId: PROJECT,
    notebookId: `bench/${kind}-${index}.ipynb`,
    status: 'RUNNING',
    createdAt: iso,
    updatedAt: iso,
    startedAt: iso,
    deadline: new Date(createdAt.getTime() + 86_400_000).toISOString(),
    checks: 0,
    version: 1,
  };
}

/** A RUNNING run on `operationId`, due for a check at `dueAt`. */
export function runningRecord(index: number, operationId: string, dueAt: Date): RunRecord {
  const createdAt = new Date(dueAt.getTime() - 60_000);
  return { ...base(index, createdAt, 'running'), operationId, nextCheckAt: dueAt.toISOString() };
}

/** A run that finished (and was reported) an hour after `createdAt`: history, not in the open index. */
export function finishedRecord(index: number, createdAt: Date): RunRecord {
  const finishedAt = new Date(createdAt.getTime() + 3_600_000).toISOString();
  return {
    ...base(index, createdAt, 'finished'),
    operationId: `bench-done-${index}`,
    status: 'SUCCEEDED',
    executionStatus: 'OK',
    updatedAt: finishedAt,
    finishedAt,
    reportedAt: finishedAt,
    operationDone: true,
    checks: 60,
  };
}

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function inParallel<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** Creates every record; fails loudly if one already existed. */
export async function fill(
  ledger: RunLedger,
  records: readonly RunRecord[],
  concurrency = 16,
): Promise<void> {
  await inParallel(records, concurrency, async (record) => {
    const result = await ledger.create(record);
    if (!result.created) throw new Error(`bench: run ${record.runId} already existed`);
  });
}

/** Makes every given run due again (its next check at `dueAt`), as if the sweep had not run. */
export async function makeDue(
  ledger: RunLedger,
  runIds: readonly string[],
  dueAt: Date,
  concurrency = 16,
): Promise<void> {
  await inParallel(runIds, concurrency, async (runId) => {
    const record = await ledger.get(runId);
    if (record === undefined) throw new Error(`bench: run ${runId} is missing`);
    const updated = await ledger.update({ ...record, nextCheckAt: dueAt.toISOString() });
    if (updated === undefined) throw new Error(`bench: run ${runId} changed while being reset`);
  });
}

/** Starts `count` notebook runs in the emulator (long-running), returning their operation ids. */
export async function emulatorOperations(emulatorUrl: string, count: number): Promise<string[]> {
  return inParallel(Array.from({ length: count }), 32, async (_, index) => {
    const response = await fetch(`${emulatorUrl}/datasphere/v2/projects/${PROJECT}:execute`, {
      method: 'POST',
      headers: { authorization: 'Bearer t1.bench-token', 'content-type': 'application/json' },
      body: JSON.stringify({ notebookId: `bench/running-${index}.ipynb` }),
    });
    const operation = (await response.json()) as { id?: string };
    if (!response.ok || typeof operation.id !== 'string') {
      throw new Error(`bench: emulator Execute answered ${response.status}`);
    }
    return operation.id;
  });
}
