/**
 * `npm start` as a person runs it, in a child process on free ports with its own state directory and an
 * empty jobs file (so only the runs a test starts are listed). Resolves with the front door's URL once
 * it is listening; `stop()` sends SIGTERM to the whole process group (npm, node, the function hosts) and
 * waits for it to end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface NpmStart {
  readonly url: string;
  /** Every line it printed so far (for a failure's message). */
  readonly output: readonly string[];
  stop(): Promise<void>;
}

const root = join(import.meta.dirname, '..', '..', '..');

const groupAlive = (pid: number): boolean => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The API key the started `npm start` expects (obviously fake; the browser test's GOOD_KEY). */
export const NPM_START_API_KEY = 'e2e-fake-api-key-0001';

export async function startNpmStart(
  options: { args?: readonly string[]; readyMs?: number } = {},
): Promise<NpmStart> {
  const state = mkdtempSync(join(tmpdir(), 'datasphere-runner-web-'));
  const jobs = join(state, 'jobs.yaml');
  writeFileSync(jobs, 'jobs: {}\n');
  const child: ChildProcess = spawn(
    'npm',
    [
      'start',
      '--',
      '--port',
      '0',
      '--emulator-port',
      '0',
      '--state-dir',
      join(state, 'state'),
      ...(options.args ?? []),
    ],
    {
      cwd: root,
      // The /runs routes need credentials (docs/auth.md): npm start takes this key as the one it expects.
      env: {
        ...process.env,
        JOBS_FILE: jobs,
        NO_COLOR: '1',
        FORCE_COLOR: '0',
        API_KEYS: '',
        DATASPHERE_RUNNER_API_KEY: NPM_START_API_KEY,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`npm start was not ready in time:\n${output.slice(-30).join('\n')}`)),
      options.readyMs ?? 120_000,
    );
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream as NodeJS.ReadableStream }).on('line', (line) => {
        output.push(line);
        const match = /front door on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
    }
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code}) before it was ready:\n${output.slice(-30).join('\n')}`));
    });
  });
  return {
    url,
    output,
    async stop() {
      if (child.exitCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
        const killer = setTimeout(() => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }, 10_000);
        await exited;
        // npm has gone; wait for the rest of its group (node, the function hosts) before removing state.
        for (let i = 0; i < 100 && groupAlive(child.pid); i++) await new Promise((r) => setTimeout(r, 100));
        clearTimeout(killer);
      }
      rmSync(state, { recursive: true, force: true });
    },
  };
}
