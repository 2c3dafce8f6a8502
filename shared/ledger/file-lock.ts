import { randomUUID } from 'node:crypto';
import { type FileHandle, link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { errnoCode, fileError, ledgerError } from './ledger-error.ts';

/**
 * A lock file shared by processes on one machine (or one shared disk): `link()` of a fully written
 * temp file onto the lock path is atomic and fails with EEXIST while someone holds it, so the lock
 * file always carries its owner's token, pid, host and time.
 *
 * A holder that crashed leaves its lock behind: a lock is taken over when it is older than `staleMs`,
 * or at once when its owner is a dead process on this host. Taking over renames the lock away first
 * (atomic, one winner) and checks it renamed the very lock it judged stale; if a fresh lock was grabbed
 * by mistake it is linked back.
 */
export interface FileLockOptions {
  /** A lock older than this belongs to a crashed or hung holder. */
  readonly staleMs: number;
  /** Give up waiting after this long. */
  readonly timeoutMs: number;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
}

export interface HeldLock {
  /** Throws LEDGER_ERROR when the lock is no longer ours (taken over as stale): do not commit then. */
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

const HOST = hostname();

/** Wait (with jittered backoff) until the lock at `path` is ours. */
export async function acquireLock(path: string, options: FileLockOptions): Promise<HeldLock> {
  const started = options.now();
  let backoff = 1;
  for (;;) {
    const held = await tryLock(path, options);
    if (held !== undefined) return held;
    if (options.now() - started > options.timeoutMs) {
      throw ledgerError(
        `file ledger: timed out after ${options.timeoutMs} ms waiting for lock ${path}`,
        undefined,
        {
          path,
        },
      );
    }
    await options.sleep(backoff / 2 + options.random() * backoff);
    backoff = Math.min(backoff * 2, 50);
  }
}

/** Take the lock if it is free (or abandoned); `undefined` when someone alive holds it. */
export async function tryLock(path: string, options: FileLockOptions): Promise<HeldLock | undefined> {
  const content = JSON.stringify({ token: randomUUID(), pid: process.pid, host: HOST, at: options.now() });
  const temp = `${path}.${randomUUID()}.tmp`;
  // The temp file stays open while the lock is held: its inode cannot be freed and reused meanwhile, so
  // "is the lock still ours" is one stat() comparing inodes instead of reading the file back.
  const handle = await io('write lock', temp, () => openWithDir(temp));
  let held: HeldLock | undefined;
  try {
    await io('write lock', temp, () => handle.write(content));
    const { ino, dev } = await io('write lock', temp, () => handle.stat());
    for (let attempt = 0; attempt < 3 && held === undefined; attempt += 1) {
      try {
        await link(temp, path);
        held = heldLock(path, handle, ino, dev);
      } catch (error) {
        if (errnoCode(error) !== 'EEXIST') throw fileError('lock', path, error);
        if (!(await takeOverIfStale(path, options))) break;
      }
    }
    return held;
  } finally {
    await unlink(temp).catch(() => {});
    if (held === undefined) await handle.close().catch(() => {});
  }
}

function heldLock(path: string, handle: FileHandle, ino: number, dev: number): HeldLock {
  const ours = async (): Promise<boolean> => {
    try {
      const info = await stat(path);
      return info.ino === ino && info.dev === dev;
    } catch {
      return false;
    }
  };
  return {
    async assertHeld() {
      if (!(await ours())) {
        throw ledgerError(`file ledger: lock ${path} was taken over while held; not committing`, undefined, {
          path,
        });
      }
    },
    async release() {
      // Never remove a lock someone else took over: only our own inode is unlinked.
      try {
        if (await ours()) await unlink(path).catch(() => {});
      } finally {
        await handle.close().catch(() => {});
      }
    },
  };
}

/** True when the lock at `path` is gone (now or after taking it over), so locking may be retried. */
async function takeOverIfStale(path: string, options: FileLockOptions): Promise<boolean> {
  let seen: string;
  let age: number;
  try {
    const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    seen = text;
    age = options.now() - (lockTime(text) ?? info.mtimeMs);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return true;
    throw fileError('inspect lock', path, error);
  }
  if (age <= options.staleMs && !ownerIsDead(seen)) return false;

  const moved = `${path}.${randomUUID()}.stale`;
  try {
    await rename(path, moved);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return true;
    throw fileError('take over stale lock', path, error);
  }
  const taken = await readOrUndefined(moved);
  if (taken !== seen) {
    // Between our look and the rename the stale lock was replaced by a live one: give it back.
    await link(moved, path).catch(() => {});
    await unlink(moved).catch(() => {});
    return false;
  }
  await unlink(moved).catch(() => {});
  return true;
}

/** When the lock was taken, by the holder's clock (the same `now` the waiters use). */
function lockTime(content: string): number | undefined {
  try {
    const at = (JSON.parse(content) as { at?: unknown }).at;
    return typeof at === 'number' ? at : undefined;
  } catch {
    return undefined;
  }
}

function ownerIsDead(content: string): boolean {
  let owner: { pid?: unknown; host?: unknown };
  try {
    owner = JSON.parse(content) as { pid?: unknown; host?: unknown };
  } catch {
    return false;
  }
  if (owner.host !== HOST || typeof owner.pid !== 'number' || owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (error) {
    return errnoCode(error) === 'ESRCH';
  }
}

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function openWithDir(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'wx');
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
    await mkdir(dirname(path), { recursive: true });
    return open(path, 'wx');
  }
}

async function io<T>(what: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw fileError(what, path, error);
  }
}
