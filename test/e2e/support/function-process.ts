/**
 * One function instance in its own process, the way the local platform runs it (local/function-host.ts
 * requiring a BUILT bundle), but owned by the test: it knows its pid and can be killed with SIGKILL in
 * the middle of an invocation, as the cloud may kill an instance at any moment.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { httpEvent } from '../../../local/cloud-events.ts';
import type { InvokeResult } from '../../../local/platform.ts';

const HOST_SCRIPT = join(import.meta.dirname, '../../../local/function-host.ts');

export interface FunctionProcessOptions {
  /** `dist` of the built bundles. */
  readonly distDir: string;
  readonly fn: 'execute' | 'check' | 'cancel';
  /** The function's whole environment (RUN_STORE, endpoints…). */
  readonly env: Readonly<Record<string, string>>;
  /** Name of its log lines in the log book (`execute~1`). */
  readonly source: string;
  readonly onLine: (source: string, line: string) => void;
  readonly contextToken?: string;
}

export interface FunctionProcess {
  readonly pid: number;
  readonly source: string;
  /** A raw invocation; a killed process answers `{ok: false, errorType: 'Killed'}`. */
  invoke(event: unknown): Promise<InvokeResult>;
  /** `POST /execute` (or any path) as the platform's HTTP event. */
  invokeHttp(
    method: string,
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<InvokeResult>;
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (or nothing if already gone). */
  close(): Promise<void>;
}

export async function startFunctionProcess(options: FunctionProcessOptions): Promise<FunctionProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', HOST_SCRIPT], {
    env: {
      PATH: process.env.PATH ?? '',
      ...options.env,
      FUNCTION_BUNDLE: join(options.distDir, options.fn, 'index.js'),
      FUNCTION_NAME: options.fn,
      FUNCTION_TIMEOUT_MS: '60000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line.startsWith('@@function-host ')) resolve((JSON.parse(line.slice(16)) as { port: number }).port);
      else options.onLine(options.source, line);
    });
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) =>
      options.onLine(`${options.source}!`, line),
    );
    child.once('exit', (code, signal) =>
      reject(new Error(`function ${options.fn} exited (${code ?? signal}) before it was ready`)),
    );
  });

  const invoke = async (event: unknown): Promise<InvokeResult> => {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/invoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          event,
          context: {
            requestId: randomUUID(),
            ...(options.contextToken === undefined
              ? {}
              : { token: { access_token: options.contextToken, expires_in: 43200, token_type: 'Bearer' } }),
          },
        }),
      });
      return (await response.json()) as InvokeResult;
    } catch (error) {
      return { ok: false, errorType: 'Killed', errorMessage: (error as Error).message };
    }
  };

  return {
    pid: child.pid ?? -1,
    source: options.source,
    invoke,
    invokeHttp: (method, url, body, headers = {}) =>
      invoke(
        httpEvent({
          method,
          url,
          headers: { 'content-type': 'application/json', ...headers },
          body: Buffer.from(body === undefined ? '' : JSON.stringify(body)),
        }),
      ),
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
