import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RunRecord } from '../../shared/core/run-record.ts';
import { isRunnerError } from '../../shared/errors.ts';
import { createFileLedger, fileKey, isMemoryFileSystem } from '../../shared/ledger/file-store.ts';
import { describeLedgerConformance, sampleRecord } from './ledger-conformance.ts';

const tempDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'ledger-file-'));

describeLedgerConformance('file store', async (observer) => {
  const dir = await tempDir();
  return {
    ledger: createFileLedger({ dir, ...observer }),
    second: async () => createFileLedger({ dir }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
    corrupt: (runId, text) => writeFile(join(dir, 'runs', `${fileKey(runId)}.json`), text),
  };
});

// On a memory file system the store skips fsync (it makes nothing durable there): the same contract
// holds. /dev/shm is tmpfs on Linux; the check below fails loudly if it is not.
describeLedgerConformance('file store on a memory file system (no fsync)', async (observer) => {
  assert.equal(isMemoryFileSystem('/dev/shm'), true, '/dev/shm is expected to be tmpfs');
  const dir = await mkdtemp('/dev/shm/ledger-file-');
  return {
    ledger: createFileLedger({ dir, ...observer }),
    second: async () => createFileLedger({ dir }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
    corrupt: (runId, text) => writeFile(join(dir, 'runs', `${fileKey(runId)}.json`), text),
  };
});

const marker = (record: RunRecord): string =>
  `${String(Date.parse(record.nextCheckAt ?? '')).padStart(15, '0')}_${fileKey(record.runId)}`;

describe('file store on disk', () => {
  it('keeps one JSON file per run and one open marker per run that carries nextCheckAt', async () => {
    const dir = await tempDir();
    try {
      const ledger = createFileLedger({ dir });
      const open = sampleRecord();
      const { nextCheckAt: _n, ...doneFields } = sampleRecord();
      const done: RunRecord = { ...doneFields, status: 'FAILED' };
      await ledger.create(open);
      await ledger.create(done);
      assert.deepEqual(
        (await readdir(join(dir, 'runs'))).sort(),
        [`${open.runId}.json`, `${done.runId}.json`].sort(),
      );
      assert.deepEqual(await readdir(join(dir, 'open')), [marker(open)]);
      assert.deepEqual(JSON.parse(await readFile(join(dir, 'runs', `${open.runId}.json`), 'utf8')), open);
      assert.deepEqual(await readdir(join(dir, 'locks')), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('maps ids that are not plain file names to hashed file names inside its directories', async () => {
    const dir = await tempDir();
    try {
      const ledger = createFileLedger({ dir });
      const record = sampleRecord({ runId: '../../escape', operationId: '../op/..' });
      await ledger.create(record);
      const runs = await readdir(join(dir, 'runs'));
      assert.equal(runs.length, 1);
      assert.match(runs[0] ?? '', /^~[0-9a-f]{64}\.json$/);
      assert.deepEqual(await ledger.findByOperationId('../op/..'), record);
      assert.deepEqual(await readdir(dir).then((n) => n.sort()), [
        'by-operation',
        'history',
        'locks',
        'open',
        'quarantine',
        'runs',
        'slots',
        'tmp',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('ignores and removes a marker whose run now has another nextCheckAt (crash after the commit)', async () => {
    const dir = await tempDir();
    try {
      const ledger = createFileLedger({ dir });
      const record = sampleRecord({ nextCheckAt: '2030-01-01T00:00:00.000Z' });
      await ledger.create(record);
      const moved = await ledger.update({ ...record, nextCheckAt: '2030-01-01T00:05:00.000Z' });
      assert.ok(moved);
      // Simulate a crash between committing the record and removing its old marker.
      await writeFile(join(dir, 'open', marker(record)), '');
      assert.equal((await readdir(join(dir, 'open'))).length, 2);

      assert.deepEqual(await ledger.listDue(new Date('2030-01-01T00:01:00.000Z'), 10), []);
      assert.deepEqual(await ledger.listOpen(), [moved]);
      assert.deepEqual(await readdir(join(dir, 'open')), [marker(moved)]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('ignores a marker whose run file was never committed (crash during create)', async () => {
    const dir = await tempDir();
    try {
      const ledger = createFileLedger({ dir });
      await ledger.listOpen();
      const ghost = sampleRecord();
      await writeFile(join(dir, 'open', marker(ghost)), '');
      assert.deepEqual(await ledger.listDue(new Date('2100-01-01T00:00:00Z'), 10), []);
      assert.deepEqual(await readdir(join(dir, 'open')), []);
      // The id is still free to create.
      assert.equal((await ledger.create(ghost)).created, true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('does not trust an operation entry that points at a run carrying another operationId', async () => {
    const dir = await tempDir();
    try {
      const ledger = createFileLedger({ dir });
      const record = sampleRecord({ operationId: 'op-real' });
      await ledger.create(record);
      await writeFile(join(dir, 'by-operation', 'op-stale'), record.runId);
      assert.equal(await ledger.findByOperationId('op-stale'), undefined);
      assert.deepEqual(await ledger.findByOperationId('op-real'), record);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes over a lock left behind by a crashed process once it is stale', async () => {
    const dir = await tempDir();
    try {
      let now = 1_000_000;
      // Each backoff sleep moves the clock on by a second, so the lock turns stale after a few waits.
      const ledger = createFileLedger({
        dir,
        staleLockMs: 5_000,
        now: () => now,
        sleep: async () => {
          now += 1_000;
        },
      });
      const record = sampleRecord();
      await ledger.create(record);
      const lock = join(dir, 'locks', `${record.runId}.lock`);
      // A live pid on another host: only age can make it stale.
      await writeFile(lock, JSON.stringify({ token: 'x', pid: 1, host: 'elsewhere', at: now }));
      assert.equal((await ledger.update({ ...record, checks: 1 }))?.version, 2);
      assert.ok(now > 1_005_000);
      assert.deepEqual(await readdir(join(dir, 'locks')), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes over at once a lock whose owner process on this host is gone', async () => {
    const dir = await tempDir();
    try {
      const ledger = createFileLedger({ dir });
      const record = sampleRecord();
      await ledger.create(record);
      const { hostname } = await import('node:os');
      const deadPid = 2 ** 22 + 12_345; // above Linux's pid_max default range
      await writeFile(
        join(dir, 'locks', `${record.runId}.lock`),
        JSON.stringify({ token: 'x', pid: deadPid, host: hostname(), at: Date.now() }),
      );
      assert.equal((await ledger.update({ ...record, checks: 1 }))?.version, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails with LEDGER_ERROR naming the lock when a live lock is never released', async () => {
    const dir = await tempDir();
    try {
      let now = 0;
      const ledger = createFileLedger({
        dir,
        staleLockMs: 60_000,
        lockTimeoutMs: 1_000,
        now: () => now,
        sleep: async () => {
          now += 100;
        },
      });
      const record = sampleRecord();
      await ledger.create(record);
      const lock = join(dir, 'locks', `${record.runId}.lock`);
      await writeFile(lock, JSON.stringify({ token: 'x', pid: process.pid, host: 'here', at: now }));
      await assert.rejects(
        ledger.update({ ...record, checks: 1 }),
        (error) => isRunnerError(error) && error.code === 'LEDGER_ERROR' && error.message.includes(lock),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports an unreadable run file as LEDGER_ERROR with its path', async () => {
    const dir = await tempDir();
    try {
      const ledger = createFileLedger({ dir });
      const record = sampleRecord();
      await ledger.create(record);
      const path = join(dir, 'runs', `${record.runId}.json`);
      await writeFile(path, '{ half a record');
      await assert.rejects(
        ledger.get(record.runId),
        (error) =>
          isRunnerError(error) &&
          error.code === 'LEDGER_ERROR' &&
          error.details?.location === path &&
          error.message.includes(path),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a directory it cannot create as LEDGER_ERROR with the path', async () => {
    const dir = await tempDir();
    try {
      await writeFile(join(dir, 'runs'), 'a file where a directory should be');
      const ledger = createFileLedger({ dir });
      await assert.rejects(
        ledger.get('r1'),
        (error) =>
          isRunnerError(error) && error.code === 'LEDGER_ERROR' && error.message.includes(join(dir, 'runs')),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
