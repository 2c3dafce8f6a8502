/**
 * Everything the CLI touches outside itself, injected so tests drive it in process: the two output
 * streams (and whether they are terminals), the environment, the clock, sleeping, Ctrl-C and `fetch`.
 */
export interface TextSink {
  write(text: string): void;
  /** True when a person is watching: live status lines and colours are used. */
  readonly isTTY?: boolean;
  /** Terminal width, when known. */
  readonly columns?: number | undefined;
}

export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where relative paths (the jobs file) are resolved. */
  readonly cwd: string;
  readonly now: () => Date;
  /** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Aborts on Ctrl-C: waiting stops, the run goes on. */
  readonly interrupt: AbortSignal;
  readonly fetch: typeof fetch;
  readonly randomUUID: () => string;
}

/** A sleep that ends early, quietly, when `signal` aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
