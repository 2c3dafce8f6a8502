import { createHash, randomUUID } from 'node:crypto';
import {
  closeSync,
  fsync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statfsSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { RunRecord } from '../core/run-record.ts';
import { acquireLock, type FileLockOptions, type HeldLock, tryLock } from './file-lock.ts';
import { errnoCode, fileError, isUnreadableRecord, ledgerError } from './ledger-error.ts';
import {
  assertCreatable,
  assertUpdatable,
  dueByMillis,
  dueMillis,
  parseStoredRecord,
  parseStoredSlot,
} from './record-checks.ts';
import {
  type CandidateRecord,
  createdMillis,
  dayName,
  type HistoryCandidate,
  walkHistory,
} from './run-history.ts';
import type { ConcurrencySlot, CreateResult, LedgerObserver, RunLedger } from './run-ledger.ts';
import { type HeldSlot, slotRules } from './slot-rules.ts';

/**
 * The embedded run ledger (`RUN_STORE=file:<dir>`), safe for several processes on one directory.
 *
 * Layout under `dir`:
 * - `runs/<key>.json`       one record per run, replaced atomically (temp file, fsync, rename);
 * - `open/<ms>_<key>`       empty marker per run that carries `nextCheckAt` (ms zero-padded, so names sort
 *                           by due time): listDue/listOpen list this directory and read only those runs;
 * - `by-operation/<key>`    the runId of the run that carries that operationId;
 * - `locks/<key>.lock`      per-run lock; every create and update runs under it;
 * - `history/<YYYY-MM-DD>/<ms>_<key>`  empty marker per run, written once at create in the UTC day of its
 *                           `createdAt` (ms zero-padded): listRuns lists only the days of the asked window.
 * - `slots/<key>.json`      the holder of a concurrency scope (`<key>` from the scope), changed only under
 *                           `locks/slot.<key>.lock`;
 * - `tmp/`                  temp files of writes in flight (written, fsynced, then renamed or linked into
 *                           place); what a killed writer leaves there is removed by a later sweep;
 * - `quarantine/<key>`      a run record that could not be read, set aside: a symbolic link to its file,
 *                           which stays where it was (out of `open/`, so sweeps no longer meet it).
 * `<key>` is the id itself when it is a plain file name, else `~` + its SHA-256 (ids may hold `/`, `..`).
 *
 * Write order under the lock: index entries the new record needs (operation entry, new marker) are
 * written BEFORE the record is committed, entries it no longer needs are removed AFTER. A crash at any
 * point therefore leaves every committed open run with its marker; what it can leave behind is an extra
 * marker (or operation entry) that does not match its record, which readers check and ignore, and
 * repair under the run's lock. The lock is checked once more right before the commit (the rename or
 * link of a temp file that is already written and fsynced), so a writer that was held up past the stale
 * time does not commit.
 *
 * File system calls are synchronous, except fsync: each is one metadata call (or the read of a small
 * file) on a local file system, microseconds, while its promise form costs a hand-off to libuv's thread
 * pool and back, several times the call itself in CPU; a sweep makes about twenty of them per run
 * (docs/bench.md, "Sweep"). fsync waits for the disk, so it stays asynchronous and never blocks the event loop;
 * on a memory file system (tmpfs) it is skipped, as it makes nothing durable there (see fileWrites).
 */
export interface FileLedgerOptions extends LedgerObserver {
  /** Absolute directory of the ledger; created when missing. */
  readonly dir: string;
  /** Temp files and taken-over locks older than this were left by killed writers. @default 600000 */
  readonly leftoverAgeMs?: number;
  /** A run lock older than this was left by a crashed or hung process. @default 10000 */
  readonly staleLockMs?: number;
  /** Longest wait for a run's lock before failing with LEDGER_ERROR. @default 30000 */
  readonly lockTimeoutMs?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

const MAX_MARKER_MS = 999_999_999_999_999;
const PLAIN_KEY = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
/** How often (at most) a ledger instance looks for what killed writers left behind. */
const LEFTOVER_SCAN_MS = 300_000;

/** Open the file ledger in `options.dir`. Nothing touches the disk before the first call. */
export function createFileLedger(options: FileLedgerOptions): RunLedger {
  const runsDir = join(options.dir, 'runs');
  const openDir = join(options.dir, 'open');
  const opDir = join(options.dir, 'by-operation');
  const locksDir = join(options.dir, 'locks');
  const historyDir = join(options.dir, 'history');
  const slotsDir = join(options.dir, 'slots');
  const tmpDir = join(options.dir, 'tmp');
  const quarantineDir = join(options.dir, 'quarantine');
  const leftoverAgeMs = options.leftoverAgeMs ?? 600_000;
  const lockOptions: FileLockOptions = {
    staleMs: options.staleLockMs ?? 10_000,
    timeoutMs: options.lockTimeoutMs ?? 30_000,
    now: options.now ?? Date.now,
    sleep: options.sleep ?? ((ms) => delay(ms)),
    random: options.random ?? Math.random,
  };

  // Whether fsync can make anything durable here: not on a memory file system (see fileWrites).
  let onDisk = true;
  let ready: Promise<void> | undefined;
  const ensureDirs = (): Promise<void> => {
    ready ??= Promise.all(
      [runsDir, openDir, opDir, locksDir, slotsDir, tmpDir, quarantineDir].map((d) =>
        io('create directory', d, () => mkdir(d, { recursive: true })),
      ),
    ).then(
      () => {
        onDisk = !isMemoryFileSystem(options.dir);
      },
      (error: unknown) => {
        ready = undefined;
        throw error;
      },
    );
    return ready;
  };

  const runPath = (key: string): string => join(runsDir, `${key}.json`);
  const markerPath = (name: string): string => join(openDir, name);
  const lockPath = (key: string): string => join(locksDir, `${key}.lock`);

  const writes = fileWrites(tmpDir, lockOptions.now, () => onDisk);
  const syncDir = (dir: string) => writes.syncDir(dir);
  const writeAtomic = (path: string, content: string, beforeCommit?: () => Promise<void>) =>
    replaceFile(writes, path, content, beforeCommit);
  const writeExclusive = (path: string, content: string, beforeCommit?: () => Promise<void>) =>
    createFile(writes, path, content, beforeCommit);

  /** The run in `runs/<key>.json`; an UnreadableRecordError when the file is not a run record. */
  const readRun = (key: string, runId?: string): RunRecord | undefined => {
    const path = runPath(key);
    const text = readText(path);
    return text === undefined
      ? undefined
      : parseStoredRecord(text, path, runId ?? (key.startsWith('~') ? undefined : key));
  };

  const withLock = async <T>(key: string, fn: (lock: HeldLock) => Promise<T>): Promise<T> => {
    await ensureDirs();
    const lock = await acquireLock(lockPath(key), lockOptions);
    try {
      return await fn(lock);
    } finally {
      await lock.release();
    }
  };

  const addMarker = async (name: string, durable = true): Promise<void> => {
    const path = markerPath(name);
    try {
      // A symbolic link is created in one system call (an empty file takes open + close).
      symlinkSync(name, path);
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') return;
      throw fileError('write', path, error);
    }
    if (durable) await syncDir(openDir);
  };

  const removeMarker = (name: string): void => {
    removeFile(markerPath(name));
  };

  const writeOperation = (operationId: string, runId: string): Promise<void> =>
    writeAtomic(join(opDir, fileKey(operationId)), runId);

  const dropOperation = (operationId: string, runId: string): void => {
    const path = join(opDir, fileKey(operationId));
    try {
      if (readFileSync(path, 'utf8') === runId) unlinkSync(path);
    } catch {
      // Best effort: a leftover entry is checked against its record by every reader.
    }
  };

  /** Delete a marker that does not match its run, but only under the run's lock and only if still so. */
  const repairMarker = async (marker: Marker): Promise<void> => {
    const lock = await tryLock(lockPath(marker.key), lockOptions).catch(() => undefined);
    if (lock === undefined) return;
    try {
      const record = readRun(marker.key);
      const due = record === undefined ? undefined : dueMillis(record);
      if (due !== undefined && markerName(due, marker.key) !== marker.name) {
        // The record moved on but its marker did not (e.g. a power loss lost an update's marker): put
        // the right one in place before dropping the stale one, so the open run stays in the index.
        await addMarker(markerName(due, marker.key));
        removeMarker(marker.name);
      } else if (due === undefined) {
        removeMarker(marker.name);
      }
    } catch {
      // Repair is best effort: a reader must not fail because tidying failed.
    } finally {
      await lock.release();
    }
  };

  /**
   * Takes a run whose file is not a readable record out of the open index, under its lock and only if
   * it is still unreadable: a `quarantine/<key>` link to the file marks it (the bytes stay in place for
   * inspection; a create or get of that run keeps failing rather than treating it as new), then its
   * marker goes. Reported once, by whoever made the quarantine link.
   */
  const setAside = async (marker: Marker): Promise<void> => {
    const lock = await tryLock(lockPath(marker.key), lockOptions).catch(() => undefined);
    if (lock === undefined) return; // someone is writing it: look again next time
    try {
      let problem: unknown;
      try {
        readRun(marker.key);
      } catch (error) {
        problem = error;
      }
      if (!isUnreadableRecord(problem)) return;
      let fresh = true;
      try {
        symlinkSync(join('..', 'runs', `${marker.key}.json`), join(quarantineDir, marker.key));
      } catch (error) {
        if (errnoCode(error) !== 'EEXIST') throw fileError('write', join(quarantineDir, marker.key), error);
        fresh = false;
      }
      removeMarker(marker.name);
      if (fresh) {
        options.onUnreadable?.({
          ...(problem.runId === undefined ? {} : { runId: problem.runId }),
          location: problem.location,
          reason: problem.reason,
        });
      }
    } finally {
      await lock.release();
    }
  };

  /**
   * Removes what killed writers left behind: temp files in `tmp/` and locks renamed away to be taken
   * over (`locks/*.stale`), once they are older than `leftoverAgeMs` (a live writer holds a temp file
   * for milliseconds). Both directories hold only in-flight work, so this never lists the history.
   */
  let leftoversScannedAt: number | undefined;
  const removeLeftovers = async (): Promise<void> => {
    const now = lockOptions.now();
    if (leftoversScannedAt !== undefined && now - leftoversScannedAt < LEFTOVER_SCAN_MS) return;
    leftoversScannedAt = now;
    const old = (dir: string, name: string): boolean => {
      const stamped = /^(\d+)-/.exec(name)?.[1];
      if (stamped !== undefined) return now - Number(stamped) > leftoverAgeMs;
      const info = lstatSync(join(dir, name), { throwIfNoEntry: false });
      return info !== undefined && now - info.mtimeMs > leftoverAgeMs;
    };
    for (const [dir, suffix] of [
      [tmpDir, '.tmp'],
      [locksDir, '.stale'],
    ] as const) {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        if (name.endsWith(suffix) && old(dir, name)) {
          try {
            unlinkSync(join(dir, name));
          } catch {
            // Someone else removed it.
          }
        }
      }
    }
  };

  /** Records behind the given markers, in marker order, skipping (and repairing) ones that do not match. */
  const readMarked = async (markers: readonly Marker[], limit: number): Promise<RunRecord[]> => {
    const found: RunRecord[] = [];
    for (let i = 0; i < markers.length && found.length < limit; i++) {
      const marker = markers[i] as Marker;
      let record: RunRecord | undefined;
      try {
        record = readRun(marker.key);
      } catch (error) {
        if (!isUnreadableRecord(error)) throw error;
        await setAside(marker);
        continue;
      }
      const due = record === undefined ? undefined : dueMillis(record);
      if (record === undefined || due === undefined || markerName(due, marker.key) !== marker.name) {
        await repairMarker(marker);
      } else {
        found.push(record);
      }
    }
    return found;
  };

  const listMarkers = async (): Promise<Marker[]> => {
    await ensureDirs();
    const names = await io('list', openDir, () => readdirSync(openDir));
    return names
      .map(parseMarker)
      .filter((m): m is Marker => m !== undefined)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  };

  /** The history marker of a run created at `ms` (the day directory is made on first use). */
  const addHistoryMarker = async (ms: number, key: string): Promise<void> => {
    const dir = join(historyDir, dayName(ms));
    const name = markerName(ms, key);
    const path = join(dir, name);
    try {
      try {
        symlinkSync(name, path);
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') throw error;
        mkdirSync(dir, { recursive: true });
        symlinkSync(name, path);
      }
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') return;
      throw fileError('write', path, error);
    }
    await syncDir(dir);
  };

  /** The history markers of one UTC day (none when the day has no directory). */
  const historyMarkers = async (dayMs: number): Promise<HistoryCandidate[]> => {
    const dir = join(historyDir, dayName(dayMs));
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return [];
      throw fileError('list', dir, error);
    }
    const found: HistoryCandidate[] = [];
    for (const name of names) {
      const marker = parseMarker(name);
      if (marker !== undefined) found.push({ createdAt: marker.ms, key: marker.key });
    }
    return found;
  };

  const readCandidate = (candidate: HistoryCandidate): CandidateRecord => {
    try {
      const record = readRun(candidate.key);
      return record === undefined ? { missing: true } : { record };
    } catch (error) {
      return {
        ref: runPath(candidate.key),
        unreadable: error instanceof Error ? error.message : String(error),
      };
    }
  };

  return {
    async create(record): Promise<CreateResult> {
      assertCreatable(record);
      const key = fileKey(record.runId);
      const due = dueMillis(record);
      const created = createdMillis(record);
      return withLock(key, async (lock) => {
        const existing = readRun(key);
        if (existing !== undefined) return { created: false, record: existing };
        if (record.operationId !== undefined) await writeOperation(record.operationId, record.runId);
        if (due !== undefined) await addMarker(markerName(due, key));
        // Before the commit, like the open marker: a committed run is always in the history.
        await addHistoryMarker(created, key);
        const text = JSON.stringify(record);
        if (!(await writeExclusive(runPath(key), text, () => lock.assertHeld()))) {
          // Only possible when our lock was taken over: the other creator won.
          const winner = readRun(key);
          if (winner !== undefined) return { created: false, record: winner };
          throw ledgerError(`file ledger: run ${record.runId} vanished while being created`, undefined, {
            path: runPath(key),
          });
        }
        return { created: true, record: JSON.parse(text) as RunRecord };
      });
    },

    async get(runId) {
      await ensureDirs();
      return readRun(fileKey(runId), runId);
    },

    async findByOperationId(operationId) {
      await ensureDirs();
      const runId = readText(join(opDir, fileKey(operationId)));
      if (runId === undefined) return undefined;
      const record = readRun(fileKey(runId));
      // The entry may be left over from a crash or from an operationId the run no longer carries.
      return record?.operationId === operationId ? record : undefined;
    },

    async update(record) {
      assertUpdatable(record);
      const key = fileKey(record.runId);
      const nextDue = dueMillis(record);
      return withLock(key, async (lock) => {
        const current = readRun(key);
        if (current === undefined || current.version !== record.version) return undefined;
        const next: RunRecord = { ...record, version: record.version + 1 };
        const currentDue = dueMillis(current);
        const oldMarker = currentDue === undefined ? undefined : markerName(currentDue, key);
        const newMarker = nextDue === undefined ? undefined : markerName(nextDue, key);

        // Before the commit: whatever the new record needs to be found.
        if (next.operationId !== undefined && next.operationId !== current.operationId) {
          await writeOperation(next.operationId, next.runId);
        }
        // Not fsynced here (a create's marker is): the old marker still indexes the run until after the
        // commit, and a reader that finds a marker not matching its record puts the right one in place.
        if (newMarker !== undefined) await addMarker(newMarker, false);
        const text = JSON.stringify(next);
        await writeAtomic(runPath(key), text, () => lock.assertHeld());
        // After the commit: what only the old record needed.
        if (oldMarker !== undefined && oldMarker !== newMarker) removeMarker(oldMarker);
        if (current.operationId !== undefined && current.operationId !== next.operationId) {
          dropOperation(current.operationId, current.runId);
        }
        return JSON.parse(text) as RunRecord;
      });
    },

    async listDue(dueBy, limit) {
      const by = dueByMillis(dueBy);
      if (limit <= 0) return [];
      const due = (await listMarkers()).filter((m) => m.ms <= by);
      // Sweeps list due runs every minute: they also tidy what killed writers left (rarely, cheaply).
      await removeLeftovers().catch(() => {});
      return readMarked(due, limit);
    },

    async listOpen() {
      return readMarked(await listMarkers(), Number.POSITIVE_INFINITY);
    },

    async listRuns(query) {
      await ensureDirs();
      return walkHistory(query, {
        day: historyMarkers,
        read: async (candidates) => candidates.map(readCandidate),
      });
    },

    async getSlot(scope) {
      await ensureDirs();
      return readSlot(scope);
    },

    ...slotRules(withSlot),
  };

  /** The slot file of a scope; a damaged one (only a hand edit can make one) reads as free. */
  async function readSlot(scope: string): Promise<ConcurrencySlot | undefined> {
    const text = readText(join(slotsDir, `${fileKey(scope)}.json`));
    return text === undefined ? undefined : parseStoredSlot(text, scope);
  }

  /** Every change of a slot is a read and a write under the slot's own lock. */
  async function withSlot<T>(scope: string, change: (slot: HeldSlot) => Promise<T>): Promise<T> {
    const key = fileKey(scope);
    await ensureDirs();
    const lock = await acquireLock(join(locksDir, `slot.${key}.lock`), lockOptions);
    try {
      const held = await readSlot(scope);
      await lock.assertHeld();
      const path = join(slotsDir, `${key}.json`);
      return await change({
        held,
        put: (slot) => writeAtomic(path, JSON.stringify(slot)),
        free: () => removeFile(path),
      });
    } finally {
      await lock.release();
    }
  }
}

interface Marker {
  readonly name: string;
  readonly ms: number;
  readonly key: string;
}

/** `open/` entry for a run due at `ms`: zero-padded so that names sort by due time. */
function markerName(ms: number, key: string): string {
  const clamped = Math.min(Math.max(Math.trunc(ms), 0), MAX_MARKER_MS);
  return `${String(clamped).padStart(15, '0')}_${key}`;
}

function parseMarker(name: string): Marker | undefined {
  const match = /^(\d{15})_(.+)$/.exec(name);
  return match?.[1] === undefined || match[2] === undefined
    ? undefined
    : { name, ms: Number(match[1]), key: match[2] };
}

/** A file name for an id: the id itself when harmless, else a hash that cannot collide with plain ids. */
export function fileKey(id: string): string {
  return PLAIN_KEY.test(id) ? id : `~${createHash('sha256').update(id, 'utf8').digest('hex')}`;
}

/** Memory file systems (statfs f_type): tmpfs, ramfs. */
const MEMORY_FILE_SYSTEMS: ReadonlySet<number> = new Set([0x01021994, 0x858458f6]);

/** True when `dir` is on tmpfs or ramfs (false when it cannot be told: then fsync is kept). */
export function isMemoryFileSystem(dir: string): boolean {
  try {
    return MEMORY_FILE_SYSTEMS.has(statfsSync(dir).type);
  } catch {
    return false;
  }
}

/**
 * How a ledger instance makes its writes durable: temp files `tmp/<ms>-<uuid>.tmp` (the time says how
 * old), written and fsynced before they are renamed or linked into place, and fsynced directories.
 *
 * On a memory file system (`onDisk()` false) fsync is skipped: it does nothing there (tmpfs's fsync is
 * a no-op) and nothing survives a power loss anyway, while a process crash never needed it (the page
 * cache is shared). What the skip saves is the thread-pool round trip of every write.
 */
interface FileWrites {
  /** A fully written (on disk: fsynced) temp file, on the ledger's file system so rename/link are atomic. */
  temp(content: string): Promise<string>;
  /** Make a rename/link in `dir` durable; platforms that cannot fsync a directory skip it. */
  syncDir(dir: string): Promise<void>;
}

function fileWrites(dir: string, now: () => number, onDisk: () => boolean): FileWrites {
  return {
    async temp(content) {
      const temp = join(dir, `${Math.trunc(now())}-${randomUUID()}.tmp`);
      let fd: number | undefined;
      try {
        fd = openSync(temp, 'wx');
        writeFileSync(fd, content, 'utf8');
        if (onDisk()) await fsyncFd(fd);
      } catch (error) {
        if (fd !== undefined) quietly(() => closeSync(fd as number));
        quietly(() => unlinkSync(temp));
        throw fileError('write', temp, error);
      }
      try {
        closeSync(fd);
      } catch (error) {
        quietly(() => unlinkSync(temp));
        throw fileError('write', temp, error);
      }
      return temp;
    },
    async syncDir(path) {
      if (!onDisk()) return;
      let fd: number | undefined;
      try {
        fd = openSync(path, 'r');
        await fsyncFd(fd);
      } catch {
        // EISDIR/EPERM/EINVAL on some platforms: the data itself was fsynced already.
      } finally {
        if (fd !== undefined) quietly(() => closeSync(fd as number));
      }
    },
  };
}

/**
 * Replace `path` with `content` atomically: a reader sees the old or the new file, never a mix. The
 * content is fsynced before the rename; the directory is not (unlike a create), which saves three
 * system calls on every update of a sweep: after a power loss (not a process crash) an update may be
 * lost and the record be back at its previous version, which the next sweep simply redoes.
 * `beforeCommit` runs between the two (the lock check): when it throws, nothing is committed.
 */
async function replaceFile(
  writes: FileWrites,
  path: string,
  content: string,
  beforeCommit?: () => Promise<void>,
): Promise<void> {
  const written = await checkedTemp(writes, content, beforeCommit);
  try {
    renameSync(written, path);
  } catch (error) {
    quietly(() => unlinkSync(written));
    throw fileError('write', path, error);
  }
}

/** Create `path` with `content` unless it exists; false when it already did. `beforeCommit`: as above. */
async function createFile(
  writes: FileWrites,
  path: string,
  content: string,
  beforeCommit?: () => Promise<void>,
): Promise<boolean> {
  const written = await checkedTemp(writes, content, beforeCommit);
  try {
    linkSync(written, path);
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return false;
    throw fileError('write', path, error);
  } finally {
    quietly(() => unlinkSync(written));
  }
  await writes.syncDir(dirname(path));
  return true;
}

/** The first half of every commit: a written temp file, then `beforeCommit`; its failure removes the file. */
async function checkedTemp(
  writes: FileWrites,
  content: string,
  beforeCommit: (() => Promise<void>) | undefined,
): Promise<string> {
  const written = await writes.temp(content);
  try {
    await beforeCommit?.();
  } catch (error) {
    quietly(() => unlinkSync(written));
    throw error;
  }
  return written;
}

/** fsync waits for the disk: done on libuv's thread pool, so the event loop goes on meanwhile. */
function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));
}

/** A small file's text; `undefined` when it does not exist. */
function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw fileError('read', path, error);
  }
}

/** Remove `path`; already gone is fine. */
function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw fileError('remove', path, error);
  }
}

/** Best-effort tidying whose failure changes nothing (see each caller). */
function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // See the caller.
  }
}

async function io<T>(what: string, path: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw fileError(what, path, error);
  }
}
