import { randomUUID } from 'node:crypto';
import {
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { errnoCode, fileError, ledgerError } from './ledger-error.ts';

/**
 * A lock shared by processes on one machine (or one shared disk): a symbolic link at the lock path
 * whose target text is its owner's token, pid, host and time. `symlink()` creates it atomically with
 * that content and fails with EEXIST while someone holds it; `readlink()` reads it back in one call.
 *
 * A holder that crashed leaves its lock behind: a lock is taken over when it is older than `staleMs`,
 * or at once when its owner is a dead process on this host. Taking over renames the lock away first
 * (atomic, one winner) and checks it renamed the very lock it judged stale; if a fresh lock was grabbed
 * by mistake it is linked back.
 *
 * The file system calls are synchronous on purpose: each is one metadata system call on a local file
 * system (microseconds), while its promise form costs a hand-off to libuv's thread pool and back, several
 * times the call itself in CPU (a sweep takes and releases a lock per run). Waiting for a held lock stays
 * asynchronous (`sleep`).
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
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      // A symbolic link whose target is the owner's record: created atomically with its content in one
      // system call, and refused with EEXIST while someone holds the lock.
      symlinkWithDir(content, path);
      return heldLock(path, content);
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') throw fileError('lock', path, error);
    }
    if (!(await takeOverIfStale(path, options))) return undefined;
  }
  return undefined;
}

function heldLock(path: string, content: string): HeldLock {
  const ours = (): boolean => readOrUndefined(path) === content;
  return {
    async assertHeld() {
      if (!ours()) {
        throw ledgerError(`file ledger: lock ${path} was taken over while held; not committing`, undefined, {
          path,
        });
      }
    },
    async release() {
      // Never remove a lock someone else took over: only our own is unlinked.
      if (ours()) quietly(() => unlinkSync(path));
    },
  };
}

/** True when the lock at `path` is gone (now or after taking it over), so locking may be retried. */
async function takeOverIfStale(path: string, options: FileLockOptions): Promise<boolean> {
  let seen: string;
  let age: number;
  try {
    seen = readLock(path);
    const info = lstatSync(path);
    age = options.now() - takenAt(lockTime(seen), info.mtimeMs, options.now());
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return true;
    throw fileError('inspect lock', path, error);
  }
  if (age <= options.staleMs && !ownerIsDead(seen)) return false;

  const moved = `${path}.${randomUUID()}.stale`;
  try {
    renameSync(path, moved);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return true;
    throw fileError('take over stale lock', path, error);
  }
  let taken: string | undefined;
  try {
    taken = readLock(moved);
  } catch {
    taken = undefined;
  }
  if (taken !== seen) {
    // Between our look and the rename the stale lock was replaced by a live one: give it back.
    quietly(() => linkSync(moved, path));
    quietly(() => unlinkSync(moved));
    return false;
  }
  quietly(() => unlinkSync(moved));
  return true;
}

/**
 * When the lock was taken, as seen now. The holder's stamp is used (the same clock the waiters use),
 * unless it lies in the future: a holder whose clock runs ahead would otherwise keep its lock alive
 * until that time. Then the lock file's own time (set by the file system when it was created) bounds
 * it, and never later than now: such a lock lives at most `staleMs` from when it was made.
 */
function takenAt(stamped: number | undefined, fileTime: number, now: number): number {
  if (stamped === undefined) return fileTime;
  return stamped <= now ? stamped : Math.min(fileTime, now);
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

function readOrUndefined(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** The owner record of a lock: a symbolic link's target, or the content of a plain lock file. */
function readLock(path: string): string {
  try {
    return readlinkSync(path);
  } catch (error) {
    if (errnoCode(error) !== 'EINVAL') throw error;
    return readFileSync(path, 'utf8');
  }
}

function symlinkWithDir(target: string, path: string): void {
  try {
    symlinkSync(target, path);
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
    mkdirSync(dirname(path), { recursive: true });
    symlinkSync(target, path);
  }
}

/** Best-effort tidying whose failure changes nothing (the file is gone, or someone else moved it). */
function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // See the caller.
  }
}
