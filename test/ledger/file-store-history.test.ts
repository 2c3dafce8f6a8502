import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createFileLedger, fileKey } from '../../shared/ledger/file-store.ts';
import { sampleRecord } from './ledger-conformance.ts';

const T0 = Date.parse('2030-05-01T12:00:00.000Z');
const DAY = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString();
const QUERY = { since: new Date(T0 - 3 * DAY), until: new Date(T0), limit: 50, scanLimit: 500, dayLimit: 10 };
const marker = (ms: number, runId: string): string => `${String(ms).padStart(15, '0')}_${fileKey(runId)}`;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ledger-history-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('file store history on disk', () => {
  it('writes one marker per run in the directory of its UTC day, named by zero-padded createdAt and file key', () =>
    withDir(async (dir) => {
      const ledger = createFileLedger({ dir });
      const late = sampleRecord({ createdAt: '2030-05-01T00:00:00.000Z' });
      const early = sampleRecord({ createdAt: '2030-04-30T23:59:59.999+00:00' });
      const odd = sampleRecord({ runId: 'run/with/slashes', createdAt: '2030-05-01T03:00:00+03:00' });
      for (const r of [late, early, odd]) await ledger.create(r);
      await ledger.update({ ...late, status: 'RUNNING' });
      assert.deepEqual((await readdir(join(dir, 'history'))).sort(), ['2030-04-30', '2030-05-01']);
      assert.deepEqual(
        (await readdir(join(dir, 'history', '2030-05-01'))).sort(),
        [marker(Date.parse(late.createdAt), late.runId), marker(Date.parse(odd.createdAt), odd.runId)].sort(),
      );
      assert.deepEqual(await readdir(join(dir, 'history', '2030-04-30')), [
        marker(Date.parse(early.createdAt), early.runId),
      ]);
      const page = await ledger.listRuns({ ...QUERY, until: new Date(T0 + DAY) });
      // `late` and `odd` share an instant: the tie goes by file name, and `~<sha256>` sorts after a UUID.
      assert.deepEqual(
        page.runs.map((r) => r.runId),
        [odd.runId, late.runId, early.runId],
      );
    }));

  it('skips a marker left by a create that never committed, and one whose run has another createdAt', () =>
    withDir(async (dir) => {
      const ledger = createFileLedger({ dir });
      const real = sampleRecord({ createdAt: iso(T0 - 5_000) });
      await ledger.create(real);
      const day = join(dir, 'history', '2030-05-01');
      // A crash between the marker and the record: no record behind it.
      const ghost = marker(T0 - 4_000, 'ghost-run');
      await symlink(ghost, join(day, ghost));
      // A second creator that lost the run (lock taken over) left its own instant behind.
      const stale = marker(T0 - 3_000, real.runId);
      await symlink(stale, join(day, stale));
      // Names that are not markers are ignored.
      await writeFile(join(day, 'README'), 'not a marker');
      const page = await ledger.listRuns(QUERY);
      assert.deepEqual(page.runs, [real]);
      assert.deepEqual(page.unreadable, []);
    }));

  it('names a record it cannot read and answers the others', () =>
    withDir(async (dir) => {
      const ledger = createFileLedger({ dir });
      const good = sampleRecord({ createdAt: iso(T0 - 5_000) });
      await ledger.create(good);
      const broken = sampleRecord({ createdAt: iso(T0 - 2_000) });
      await ledger.create(broken);
      await writeFile(join(dir, 'runs', `${broken.runId}.json`), '{"truncated": ');
      const page = await ledger.listRuns(QUERY);
      assert.deepEqual(page.runs, [good]);
      assert.equal(page.unreadable.length, 1);
      assert.match(page.unreadable[0]?.ref ?? '', new RegExp(`${broken.runId}\\.json$`));
      assert.match(page.unreadable[0]?.reason ?? '', /not valid JSON/);
    }));

  it('lists only the day directories of the window (a day of another year is never opened)', () =>
    withDir(async (dir) => {
      const ledger = createFileLedger({ dir });
      const inside = sampleRecord({ createdAt: iso(T0 - 1_000) });
      await ledger.create(inside);
      // A day directory outside the window that cannot even be listed: reading it would fail.
      await mkdir(join(dir, 'history', '2029-01-01'), { recursive: true });
      await writeFile(join(dir, 'history', '2029-01-01', 'x'), '');
      await rm(join(dir, 'history', '2029-01-01'), { recursive: true });
      await writeFile(join(dir, 'history', '2029-01-01'), 'a file, not a directory');
      const page = await ledger.listRuns(QUERY);
      assert.deepEqual(page.runs, [inside]);
    }));
});
