import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createFileLedger } from '../../shared/ledger/file-store.ts';
import type { RacerCommand, RacerReport } from './file-store-racer.ts';
import { sampleRecord } from './ledger-conformance.ts';

/** One `node --import tsx` child that answers each command with one report. */
class Racer {
  readonly #child: ChildProcess;
  readonly #reports: RacerReport[] = [];
  readonly #waiters: ((report: RacerReport) => void)[] = [];

  constructor() {
    this.#child = fork(fileURLToPath(new URL('file-store-racer.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child.on('message', (report: RacerReport) => {
      const waiter = this.#waiters.shift();
      if (waiter) waiter(report);
      else this.#reports.push(report);
    });
  }

  next(): Promise<RacerReport> {
    const queued = this.#reports.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      this.#waiters.push(resolve);
      this.#child.once('exit', (code) => reject(new Error(`racer exited with ${code}`)));
    });
  }

  async send(command: RacerCommand): Promise<RacerReport> {
    this.#child.send(command);
    const report = await this.next();
    if (report.phase === 'error') throw new Error(`racer failed: ${report.message}`);
    return report;
  }

  stop(): void {
    this.#child.kill();
  }
}

/** A moment both children can still wait for: the commands are sent one after the other. */
const soon = (): number => Date.now() + 100;

const count = (values: readonly string[]): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
};

describe('file store shared by two processes', () => {
  let dir: string;
  let racers: [Racer, Racer];
  const runIds = Array.from({ length: 100 }, () => randomUUID());

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ledger-procs-'));
    racers = [new Racer(), new Racer()];
    await Promise.all(racers.map((r) => r.next()));
  });

  after(async () => {
    for (const racer of racers) racer.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('lets exactly one process create each contested run', async () => {
    const reports = await Promise.all(
      racers.map((r, racer) => r.send({ phase: 'create', dir, startAt: soon(), runIds, racer })),
    );
    const won = reports.flatMap((r) => (r.phase === 'create' ? r.won : []));
    const counts = count(won);
    for (const runId of runIds) assert.equal(counts.get(runId), 1, `run ${runId}`);
    assert.equal(won.length, runIds.length);
  });

  it('lets exactly one of the updates from both processes from the same version win per run', async () => {
    const contested = runIds.slice(0, 40);
    const reports = await Promise.all(
      racers.map((r) => r.send({ phase: 'update', dir, startAt: soon(), runIds: contested, perRun: 3 })),
    );
    const counts = count(reports.flatMap((r) => (r.phase === 'update' ? r.won : [])));
    for (const runId of contested) assert.equal(counts.get(runId), 1, `run ${runId}`);
    const ledger = createFileLedger({ dir });
    for (const runId of contested) assert.equal((await ledger.get(runId))?.version, 2);
  });

  it('keeps read-modify-write loops of both processes linear: every version is produced exactly once', async () => {
    const runId = randomUUID();
    const ledger = createFileLedger({ dir });
    await ledger.create(sampleRecord({ runId }));
    const target = 40;
    const reports = await Promise.all(
      racers.map((r) => r.send({ phase: 'chain', dir, startAt: soon(), runId, target })),
    );
    const versions = reports.flatMap((r) => (r.phase === 'chain' ? r.versions : [])).sort((a, b) => a - b);
    assert.deepEqual(
      versions,
      Array.from({ length: target }, (_, i) => i + 2),
    );
    const final = await ledger.get(runId);
    assert.equal(final?.checks, target);
    assert.equal(final?.version, target + 1);
  });
});
