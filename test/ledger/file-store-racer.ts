// Child process for file-store-processes.test.ts: races creates and updates against another process
// on the same ledger directory and reports what it won. Driven over the IPC channel of `fork`.
import { setTimeout as delay } from 'node:timers/promises';
import type { RunRecord } from '../../shared/core/run-record.ts';
import { createFileLedger } from '../../shared/ledger/file-store.ts';
import { sampleRecord } from './ledger-conformance.ts';

/** `startAt` (epoch ms) lines both processes up so that they really overlap. */
export type RacerCommand = { readonly dir: string; readonly startAt: number } & (
  | { readonly phase: 'create'; readonly runIds: readonly string[]; readonly racer: number }
  | { readonly phase: 'update'; readonly runIds: readonly string[]; readonly perRun: number }
  | { readonly phase: 'chain'; readonly runId: string; readonly target: number }
);

export type RacerReport =
  | { readonly phase: 'ready' }
  | { readonly phase: 'create'; readonly won: readonly string[] }
  | { readonly phase: 'update'; readonly won: readonly string[] }
  | { readonly phase: 'chain'; readonly versions: readonly number[] }
  | { readonly phase: 'error'; readonly message: string };

async function run(command: RacerCommand): Promise<RacerReport> {
  const ledger = createFileLedger({ dir: command.dir });
  // Warm the code paths up first, so that neither process is still compiling when the race starts.
  const warmup = sampleRecord();
  await ledger.create(warmup);
  await ledger.update({ ...warmup, checks: 1 });
  await delay(Math.max(0, command.startAt - Date.now()));
  switch (command.phase) {
    case 'create': {
      // The two racers walk the ids in opposite orders so that they meet on every id in between.
      const order = command.racer % 2 === 0 ? command.runIds : [...command.runIds].reverse();
      const results = await Promise.all(
        order.map((runId) => ledger.create(sampleRecord({ runId, checks: command.racer }))),
      );
      return { phase: 'create', won: results.filter((r) => r.created).map((r) => r.record.runId) };
    }
    case 'update': {
      const won: string[] = [];
      await Promise.all(
        command.runIds.flatMap((runId) =>
          Array.from({ length: command.perRun }, async (_, i) => {
            const current = (await ledger.get(runId)) as RunRecord;
            const v1 = { ...current, version: 1, checks: 100 + i };
            if ((await ledger.update(v1)) !== undefined) won.push(runId);
          }),
        ),
      );
      return { phase: 'update', won };
    }
    case 'chain': {
      const versions: number[] = [];
      const worker = async (): Promise<void> => {
        for (;;) {
          const current = await ledger.get(command.runId);
          if (current === undefined || current.checks >= command.target) return;
          const next = await ledger.update({ ...current, checks: current.checks + 1 });
          if (next !== undefined) versions.push(next.version);
        }
      };
      await Promise.all([worker(), worker(), worker()]);
      return { phase: 'chain', versions };
    }
  }
}

process.on('message', (command: RacerCommand) => {
  run(command).then(
    (report) => process.send?.(report),
    (error: unknown) => process.send?.({ phase: 'error', message: String(error) }),
  );
});
process.send?.({ phase: 'ready' } satisfies RacerReport);
