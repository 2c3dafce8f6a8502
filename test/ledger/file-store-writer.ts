// Child process for file-store-leftovers.test.ts: writes to a file ledger as fast as it can (creates,
// then read-modify-write updates of a few runs, eight at a time) until it is killed. It says "writing"
// on stdout once its writes are under way.
import type { RunRecord } from '../../shared/core/run-record.ts';
import { createFileLedger } from '../../shared/ledger/file-store.ts';
import { sampleRecord } from './ledger-conformance.ts';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: file-store-writer.ts <dir>');
const ledger = createFileLedger({ dir });
const runIds = Array.from({ length: 8 }, (_, i) => `writer-run-${i}`);

async function worker(runId: string): Promise<void> {
  await ledger.create(sampleRecord({ runId }));
  for (;;) {
    const current = (await ledger.get(runId)) as RunRecord;
    await ledger.update({ ...current, checks: current.checks + 1, operationId: `op-${current.checks % 3}` });
  }
}

let announced = false;
for (const runId of runIds) {
  void worker(runId);
}
const timer = setInterval(async () => {
  if (!announced && (await ledger.get(runIds[0] ?? ''))?.version !== undefined) {
    announced = true;
    process.stdout.write('writing\n');
    clearInterval(timer);
  }
}, 5);
