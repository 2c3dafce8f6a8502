/**
 * A program of the repo run as a child process from its root, as a user runs it (NO_COLOR), its output
 * collected as it comes so the child never blocks on a full pipe while the test does other things.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

export const root = join(import.meta.dirname, '..', '..');

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface StartedChild {
  readonly child: ChildProcess;
  /** stdout and stderr together, in the order they came. */
  output(): string;
  readonly exited: Promise<number | null>;
}

export interface ChildOptions {
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Its own process group (so one signal stops it and everything it started); then it counts as ended
   * at `exit`, since what it started may hold its pipes open longer.
   */
  readonly detached?: boolean;
}

function spawnCollecting(command: string, args: readonly string[], options: ChildOptions) {
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached === true,
  });
  const text = { stdout: '', stderr: '', output: '' };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    text.stdout += chunk;
    text.output += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    text.stderr += chunk;
    text.output += chunk;
  });
  const exited = once(child, options.detached === true ? 'exit' : 'close').then(
    ([code]) => code as number | null,
  );
  return { child, text, exited };
}

/** Starts `command` and returns while it goes on. */
export function startChild(
  command: string,
  args: readonly string[],
  options: ChildOptions = {},
): StartedChild {
  const { child, text, exited } = spawnCollecting(command, args, options);
  return { child, output: () => text.output, exited };
}

/** Runs `command` to its end. */
export async function runChild(
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<Finished> {
  const { text, exited } = spawnCollecting(command, args, { env });
  const code = await exited;
  return { code, stdout: text.stdout, stderr: text.stderr };
}
