// Installs a small pinned package set (a folder holding package.json + package-lock.json) into a temp
// dir named after the lockfile's hash, once: later runs, and other checkouts of the same lockfile, reuse
// it. Used for what the bench needs but the project's node_modules must not hold: the official SDK of
// the comparison row (79 MB) and the runtime's Node (whose `bin/node` would shadow `node` in every npm
// script if it were a devDependency). `npm ci` checks every tarball against the lockfile's integrity.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PinnedInstall {
  /** `<dir>/node_modules`. */
  readonly modules: string;
  /** Seconds the install took; 0 when it was already there. */
  readonly installSeconds: number;
}

/**
 * Installs `specDir`'s lockfile into `<tmpdir>/<prefix>-<hash>` unless `<modules>/<marker>` is already
 * there. Concurrent callers each install into their own staging dir; the first rename wins.
 */
export async function installPinned(
  specDir: string,
  prefix: string,
  marker: string,
  log: (line: string) => void,
): Promise<PinnedInstall> {
  const lock = readFileSync(join(specDir, 'package-lock.json'));
  const dir = join(tmpdir(), `${prefix}-${createHash('sha256').update(lock).digest('hex').slice(0, 12)}`);
  const modules = join(dir, 'node_modules');
  if (existsSync(join(modules, marker))) return { modules, installSeconds: 0 };
  const staging = `${dir}.staging-${process.pid}`;
  log(`installing ${specDir.split('/').slice(-2).join('/')} (pinned) into ${dir} (once)`);
  const started = performance.now();
  // A dir without the marker is a broken earlier install: start over.
  rmSync(dir, { recursive: true, force: true });
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  copyFileSync(join(specDir, 'package.json'), join(staging, 'package.json'));
  copyFileSync(join(specDir, 'package-lock.json'), join(staging, 'package-lock.json'));
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(
        npm,
        ['ci', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'],
        { cwd: staging, maxBuffer: 16 * 1024 * 1024 },
        (error, _stdout, stderr) =>
          error ? reject(new Error(`npm ci in ${staging} failed: ${stderr.slice(-400)}`)) : resolve(),
      );
    });
    renameSync(staging, dir);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    // Another process may have finished the same install meanwhile.
    if (!existsSync(join(modules, marker))) throw error;
  }
  return { modules, installSeconds: (performance.now() - started) / 1000 };
}
