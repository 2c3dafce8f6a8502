/**
 * What killed writers leave in a file ledger (issue #9 item 7): temp files of writes cut off by a
 * SIGKILL are removed by a later sweep, and a lock stamped in the future (a holder whose clock runs
 * ahead) blocks its run for the stale time only, not until that time.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createFileLedger } from '../../shared/ledger/file-store.ts';
import { sampleRecord } from './ledger-conformance.ts';

const WRITER = fileURLToPath(new URL('file-store-writer.ts', import.meta.url));

/** Every file under `dir` whose name ends in `.tmp`, relative to `dir`. */
async function tempFilesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (at: string) => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name.endsWith('.tmp')) found.push(relative(dir, path));
    }
  };
  await walk(dir);
  return found;
}

/** Starts a writer process on `dir`, lets it write for `ms`, then SIGKILLs it. */
async function killWriterAfter(dir: string, ms: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'writing') resolve();
    });
    child.once('exit', (code) => reject(new Error(`writer exited (${code}) before writing`)));
  });
  await new Promise((resolve) => setTimeout(resolve, ms));
  child.kill('SIGKILL');
  await exited;
}

describe('file store: what killed writers leave behind', () => {
  it('removes the temp files of writers killed mid-write at a later sweep; the records stay readable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ledger-leftovers-'));
    try {
      let kills = 0;
      // Kill writers at random moments until one of them died with a temp file written but not renamed.
      while ((await tempFilesUnder(dir)).length === 0 && kills < 60) {
        await killWriterAfter(dir, 20 + Math.floor(Math.random() * 80));
        kills++;
      }
      const left = await tempFilesUnder(dir);
      assert.ok(left.length > 0, `no kill out of ${kills} left a temp file behind`);
      console.log(`[leftovers] ${kills} kills left ${left.length} temp file(s): ${left.join(', ')}`);

      // A later sweep (listDue) of another process removes them once they are old enough.
      const ledger = createFileLedger({ dir, leftoverAgeMs: 0 });
      await ledger.listDue(new Date(Date.now() + 86_400_000), 100);
      assert.deepEqual(await tempFilesUnder(dir), []);
      for (let i = 0; i < 8; i++) {
        const record = await ledger.get(`writer-run-${i}`);
        assert.equal(record?.runId, `writer-run-${i}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('leaves the temp file of a write in flight alone and removes only old ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ledger-leftovers-'));
    try {
      const ledger = createFileLedger({ dir });
      await ledger.create(sampleRecord());
      const now = Date.now();
      const fresh = `${now}-in-flight.tmp`;
      const old = `${now - 3_600_000}-killed.tmp`;
      await writeFile(join(dir, 'tmp', fresh), 'x');
      await writeFile(join(dir, 'tmp', old), 'x');
      await ledger.listDue(new Date(now), 10);
      assert.deepEqual(await readdir(join(dir, 'tmp')), [fresh]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes over a lock stamped an hour in the future by a live holder after the stale time, not an hour', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ledger-skew-'));
    try {
      let now = Date.now();
      // Each backoff sleep moves the clock on by 100 ms: the lock must turn stale within the timeout.
      const ledger = createFileLedger({
        dir,
        staleLockMs: 1_000,
        lockTimeoutMs: 5_000,
        now: () => now,
        sleep: async () => {
          now += 100;
        },
      });
      const record = sampleRecord();
      await ledger.create(record);
      await mkdir(join(dir, 'locks'), { recursive: true });
      // A holder on this host that is alive (this very process), whose clock runs an hour ahead.
      const owner = JSON.stringify({
        token: 'skewed',
        pid: process.pid,
        host: hostname(),
        at: now + 3_600_000,
      });
      await symlink(owner, join(dir, 'locks', `${record.runId}.lock`));
      const started = now;
      assert.equal((await ledger.update({ ...record, checks: 1 }))?.version, 2);
      assert.ok(now - started >= 1_000, 'not before the stale time');
      assert.ok(now - started < 5_000, 'long before the stamped time');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
