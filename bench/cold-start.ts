// Cold start of a bundle: the CPU instructions `node --jitless` executes to `require` it, counted by
// valgrind's callgrind (stable on a shared, noisy machine where wall time is not), minus the same for an
// empty handler built with the same esbuild settings. --jitless and fixed seeds keep the count
// repeatable (no background compilation, no random hash seeds). --jitless also disables WebAssembly,
// which only matters to code that compiles wasm at load (node's own fetch does: that shows up as a
// load error, reported, never hidden).
import { execFile, execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';

export interface LoadCount {
  /** Instructions of `node --jitless -e "require(file)"` (whole process). */
  readonly instructions: number;
  /** The node process exited non-zero or printed an error while loading (e.g. wasm under --jitless). */
  readonly loadError?: string;
}

/** valgrind's version line, or undefined when it is not installed. */
export function valgrindVersion(): string | undefined {
  try {
    return execFileSync('valgrind', ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** The script node runs: require the bundle, then optionally what a first API call loads. */
function loaderScript(extra: readonly string[]): string {
  return `require(process.argv[1]);${extra.map((m) => `require(${JSON.stringify(m)});`).join('')}`;
}

/**
 * Instructions to start node and `require(file)` (then `require` each of `extra`, e.g. `node:https`,
 * for what the first invocation loads on top).
 */
export function countInstructions(file: string, extra: readonly string[] = []): Promise<LoadCount> {
  const args = [
    '--tool=callgrind',
    '--callgrind-out-file=/dev/null',
    process.execPath,
    '--jitless',
    // Fixed seeds make the count repeatable to ~0.01 M (random hash seeds alone move it by ±5 M).
    '--hash-seed=1',
    '--random-seed=1',
    '-e',
    loaderScript(extra),
    file,
  ];
  return new Promise((resolve, reject) => {
    execFile('valgrind', args, { maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) => {
      const match = /Collected\s*:\s*(\d+)/.exec(stderr);
      if (match?.[1] === undefined) {
        reject(new Error(`callgrind printed no total for ${file}: ${stderr.slice(-500)}`));
        return;
      }
      const nodeError = stderr
        .split('\n')
        .filter((line) => !line.startsWith('==') && /Error/.test(line))
        .slice(0, 1)[0];
      const loadError =
        nodeError ?? (error ? `exit ${String((error as { code?: unknown }).code)}` : undefined);
      resolve({ instructions: Number(match[1]), ...(loadError === undefined ? {} : { loadError }) });
    });
  });
}

/** Median wall time of `node -e "require(file)"` over `runs` fresh processes, ms (the fallback). */
export async function wallTimeMs(file: string, runs = 15, extra: readonly string[] = []): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await new Promise<void>((resolve) => {
      execFile(process.execPath, ['-e', loaderScript(extra), file], () => resolve());
    });
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}

/** Runs `tasks` with at most `concurrency` at once (callgrind is single-threaded; this machine has 2 cores). */
export async function limited<T>(tasks: readonly (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, tasks.length) }, async () => {
      while (next < tasks.length) {
        const index = next++;
        results[index] = await (tasks[index] as () => Promise<T>)();
      }
    }),
  );
  return results;
}

export function fileBytes(file: string): number {
  return statSync(file).size;
}
