/**
 * Runs the CLI in process against a scripted stand-in of the runner's HTTP API on 127.0.0.1 port 0:
 * real HTTP, real fetch; the test decides each answer and reads every request the CLI sent.
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CliIo } from '../../cli/cli-io.ts';
import { runCli } from '../../cli/main.ts';

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Sent as it is instead of JSON. */
  readonly text?: string;
}

export type Responder = (request: SeenRequest, index: number) => Reply;

export interface StubServer {
  readonly url: string;
  readonly requests: SeenRequest[];
  respond(responder: Responder): void;
  close(): Promise<void>;
}

export async function startStub(
  responder: Responder = () => ({ status: 404, body: {} }),
): Promise<StubServer> {
  let current = responder;
  const requests: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        // kept as text
      }
      const seen: SeenRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
      };
      requests.push(seen);
      const reply = current(seen, requests.length - 1);
      if (reply.text !== undefined) {
        res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers }).end(reply.text);
        return;
      }
      res
        .writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers })
        .end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    respond(r) {
      current = r;
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: Record<string, string | undefined>;
  readonly tty?: boolean;
  readonly columns?: number;
  readonly now?: () => Date;
  readonly cwd?: string;
  /** Aborts after this many sleeps (a person pressing Ctrl-C while waiting). */
  readonly interruptAfterSleeps?: number;
}

/** Runs `datasphere-runner <argv>` in process; sleeping takes no time, so waiting tests are fast. */
export async function cli(argv: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const interrupt = new AbortController();
  let sleeps = 0;
  let uuid = 0;
  const io: CliIo = {
    stdout: {
      write: (text) => {
        stdout += text;
      },
      isTTY: options.tty === true,
      ...(options.columns === undefined ? {} : { columns: options.columns }),
    },
    stderr: {
      write: (text) => {
        stderr += text;
      },
      isTTY: false,
    },
    env: { ...options.env },
    cwd: options.cwd ?? process.cwd(),
    now: options.now ?? (() => new Date()),
    sleep: async () => {
      sleeps++;
      if (options.interruptAfterSleeps !== undefined && sleeps >= options.interruptAfterSleeps)
        interrupt.abort();
      await new Promise((resolve) => setImmediate(resolve));
    },
    interrupt: interrupt.signal,
    fetch: globalThis.fetch,
    randomUUID: () => `00000000-0000-4000-8000-${String(++uuid).padStart(12, '0')}`,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

/** A public run record as the service answers it. */
export function runRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    runId: '9c6078ec-0ac9-5caa-8a63-3ba9130a0646',
    operationId: 'bt1ckvu54on3851h285n',
    projectId: 'demo-project',
    notebookId: '/home/jupyter/datasphere/project/daily_report.ipynb',
    status: 'RUNNING',
    createdAt: '2025-06-01T12:00:00.000Z',
    updatedAt: '2025-06-01T12:00:01.000Z',
    startedAt: '2025-06-01T12:00:01.000Z',
    deadline: '2025-06-02T12:00:00.000Z',
    trigger: 'http',
    ...overrides,
  };
}
