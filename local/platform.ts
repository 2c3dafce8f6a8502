/**
 * A local stand-in for Yandex Cloud Functions and its triggers, running the BUILT bundles:
 * - each function runs in its own process (function-host.ts), like an instance in the cloud;
 * - an HTTP front door converts requests into the platform's HTTP event and the handler's result back
 *   into a response: the API Gateway's routes (`POST /runs`, `GET /runs`, `GET /runs/{runId}`,
 *   `POST /runs/{runId}/cancel`, and the web console at `GET /`, design.md §8), each function's own
 *   URL (`/execute`, `/check`, `/cancel`), and `POST /queues/<fn>`; any other route is 404 with the product's error shape
 *   `{"error": {"code", "message"}}`, a known route with another method 405;
 * - timer triggers invoke execute (a tick of the jobs file, no payload) and check (the sweep) on a
 *   period, per minute by default;
 * - Message Queue triggers: an in-memory standard queue per function with batching, redelivery of a
 *   whole batch after a visibility timeout when the function throws, and a dead-letter list after
 *   `maxReceiveCount` receives.
 * Trigger invocations are raw: the handler gets `{messages: […]}` and its return value is ignored;
 * only a throw counts as failure (platform.md §6-§8).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { httpEvent, type QueueMessageInput, queueEvent, timerEvent } from './cloud-events.ts';

export const FUNCTION_NAMES = ['execute', 'check', 'cancel'] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

export interface PlatformOptions {
  /** Where the built bundles are (`dist`). */
  readonly distDir: string;
  /** Environment of every function (RUN_STORE, DATASPHERE_ENDPOINT...). */
  readonly env: Readonly<Record<string, string>>;
  /** Extra environment per function. */
  readonly functionEnv?: Partial<Record<FunctionName, Readonly<Record<string, string>>>>;
  /** Timer period for the execute tick and the check sweep; 0 = no timers (tests call tick()). @default 60000 */
  readonly timerMs?: number;
  /** Front door port. @default 0 */
  readonly port?: number;
  /** Queue trigger batch size / cutoff / visibility timeout / receives before the DLQ. */
  readonly queue?: { batchSize?: number; cutoffMs?: number; visibilityMs?: number; maxReceiveCount?: number };
  /**
   * Each function's log lines, and the platform's own lines (source `platform`, the same JSON shape:
   * `{"level", "msg", …fields}`).
   */
  readonly onLine?: (source: string, line: string) => void;
  /** A message was put on a queue (the local console names the run it starts). */
  readonly onQueued?: (queue: 'execute' | 'cancel', messageId: string, body: string) => void;
  /** Answers `GET /` instead of the web console (which the check function serves, as via the gateway). */
  readonly index?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Passed as `context.token` to every invocation (as a function with a service account gets). */
  readonly contextToken?: string;
  readonly timeoutMs?: number;
  /** The node binary of the function processes (e.g. the runtime's 22.15). @default process.execPath */
  readonly nodePath?: string;
}

interface Host {
  readonly name: FunctionName;
  readonly child: ChildProcess;
  readonly port: number;
}

interface QueuedMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: Date;
  receiveCount: number;
  visibleAt: number;
}

export interface InvokeResult {
  readonly ok: boolean;
  readonly result?: unknown;
  readonly errorMessage?: string;
  readonly errorType?: string;
}

export interface LocalPlatform {
  /** The front door: `POST /execute`, `GET /check?runId=`, `POST /cancel`, `/runs…`, `POST /queues/<fn>`. */
  readonly url: string;
  /** Raw invocation of a function (as a trigger does). */
  invoke(fn: FunctionName, event: unknown): Promise<InvokeResult>;
  /** One timer tick: execute (jobs) and check (sweep), as the per-minute triggers do. */
  tick(now?: Date): Promise<{ execute: InvokeResult; check: InvokeResult }>;
  /** Sends a message to a function's queue; the queue trigger delivers it. */
  send(fn: 'execute' | 'cancel', body: string): string;
  /** Messages moved to the dead-letter list after too many failed deliveries. */
  readonly deadLetters: readonly { fn: string; messageId: string; body: string }[];
  /** Waits until both queues are empty (or the time runs out). */
  drainQueues(timeoutMs?: number): Promise<void>;
  /** Starts another instance of a function (e.g. a second check for overlapping sweeps). */
  addInstance(fn: FunctionName): Promise<(event: unknown) => Promise<InvokeResult>>;
  close(): Promise<void>;
}

async function startHost(name: FunctionName, options: PlatformOptions, instance: number): Promise<Host> {
  const node = options.nodePath ?? process.execPath;
  const child = spawn(node, ['--import', 'tsx', join(import.meta.dirname, 'function-host.ts')], {
    env: {
      PATH: process.env.PATH ?? '',
      ...options.env,
      ...options.functionEnv?.[name],
      FUNCTION_BUNDLE: join(options.distDir, name, 'index.js'),
      FUNCTION_NAME: name,
      FUNCTION_TIMEOUT_MS: String(options.timeoutMs ?? 60_000),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const source = instance === 0 ? name : `${name}#${instance + 1}`;
  const emit = options.onLine ?? (() => undefined);
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      if (line.startsWith('@@function-host ')) resolve((JSON.parse(line.slice(16)) as { port: number }).port);
      else emit(source, line);
    });
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) =>
      emit(`${source}!`, line),
    );
    child.once('exit', (code) =>
      reject(new Error(`function ${name} exited with code ${code} before it was ready`)),
    );
  });
  return { name, child, port };
}

async function invokeHost(
  host: Host,
  event: unknown,
  contextToken: string | undefined,
): Promise<InvokeResult> {
  const response = await fetch(`http://127.0.0.1:${host.port}/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      event,
      context: {
        requestId: crypto.randomUUID(),
        ...(contextToken === undefined
          ? {}
          : { token: { access_token: contextToken, expires_in: 43200, token_type: 'Bearer' } }),
      },
    }),
  });
  return (await response.json()) as InvokeResult;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** What the front door does with a request. */
export type FrontDoorRoute =
  | {
      readonly kind: 'function';
      readonly fn: FunctionName;
      readonly params?: Record<string, string>;
      /**
       * A route of the API Gateway: its spec path and operationId. The function gets the gateway's
       * event (credentials required, docs/auth.md); without it, a direct invocation's (URL invocation).
       */
      readonly gateway?: { readonly path: string; readonly operationId: string };
    }
  | { readonly kind: 'queue'; readonly fn: 'execute' | 'cancel' }
  | { readonly kind: 'index' }
  | { readonly kind: 'method-not-allowed'; readonly allow: string }
  | { readonly kind: 'not-found' };

/** The API Gateway's routes (api-gateway/openapi.yaml), as the front door serves them. */
export const GATEWAY_ROUTES = [
  'POST /runs',
  'GET /runs',
  'GET /runs/{runId}',
  'POST /runs/{runId}/cancel',
] as const;

const only = (method: string, allowed: string, route: FrontDoorRoute): FrontDoorRoute =>
  allowed.split(', ').includes(method) ? route : { kind: 'method-not-allowed', allow: allowed };

/** Routes of the front door: the gateway's `/runs…` with path parameters, function URLs, queues. */
export function route(method: string, pathname: string): FrontDoorRoute {
  const parts = pathname.split('/').filter(Boolean);
  const m = method.toUpperCase();
  if (parts.length === 0) return only(m, 'GET, HEAD', { kind: 'index' });
  // A function's own URL: every method reaches the function, which answers 405 itself where it must.
  if (parts.length === 1 && FUNCTION_NAMES.includes(parts[0] as FunctionName)) {
    return { kind: 'function', fn: parts[0] as FunctionName };
  }
  if (parts[0] === 'queues' && parts.length === 2 && (parts[1] === 'execute' || parts[1] === 'cancel')) {
    return only(m, 'POST', { kind: 'queue', fn: parts[1] });
  }
  if (parts[0] !== 'runs' || parts.length > 3) return { kind: 'not-found' };
  if (parts.length === 1) {
    return only(
      m,
      'GET, POST',
      m === 'POST'
        ? { kind: 'function', fn: 'execute', gateway: { path: '/runs', operationId: 'startRun' } }
        : { kind: 'function', fn: 'check', gateway: { path: '/runs', operationId: 'listRuns' } },
    );
  }
  let runId: string;
  try {
    runId = decodeURIComponent(parts[1] ?? '');
  } catch {
    return { kind: 'not-found' };
  }
  if (parts.length === 2) {
    return only(m, 'GET', {
      kind: 'function',
      fn: 'check',
      params: { runId },
      gateway: { path: '/runs/{runId}', operationId: 'getRun' },
    });
  }
  if (parts[2] === 'cancel') {
    return only(m, 'POST', {
      kind: 'function',
      fn: 'cancel',
      params: { runId },
      gateway: { path: '/runs/{runId}/cancel', operationId: 'cancelRun' },
    });
  }
  return { kind: 'not-found' };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res
    .writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
    .end(JSON.stringify(body));
}

/** A port that could not be listened on; `start.ts` names the option that changes it. */
export class ListenError extends Error {
  readonly code: string;
  readonly port: number;
  constructor(code: string, port: number, cause: unknown) {
    super(`cannot listen on 127.0.0.1:${port} (${code})`, { cause });
    this.name = 'ListenError';
    this.code = code;
    this.port = port;
  }
}

/** Listens on 127.0.0.1:`port`; a port in use (or not allowed) is a ListenError, not an 'error' event. */
export async function listenOn(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) =>
      reject(new ListenError(error.code ?? 'ERROR', port, error));
    server.once('error', failed);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', failed);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : port;
}

export async function startLocalPlatform(options: PlatformOptions): Promise<LocalPlatform> {
  const emitLine = options.onLine ?? (() => undefined);
  /** The platform's own lines, in the functions' JSON shape so one console reads both. */
  const note = (
    level: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR',
    msg: string,
    fields: Record<string, unknown> = {},
  ) => emitLine('platform', JSON.stringify({ level, msg, time: new Date().toISOString(), ...fields }));
  const hosts = new Map<FunctionName, Host>();
  const extra: Host[] = [];

  // The front door listens first: a port in use fails before any function process is started.
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const server: Server = createServer((req, res) => {
    ready
      .then(() => serve(req, res))
      .catch((error: unknown) => {
        note('ERROR', 'front door failed', {
          method: req.method,
          path: req.url,
          error: (error as Error).message,
        });
        if (!res.headersSent) {
          sendJson(res, 500, {
            error: { code: 'INTERNAL', message: 'the local front door failed; see its log' },
          });
        } else res.end();
      });
  });
  const port = await listenOn(server, options.port ?? 0);

  try {
    await Promise.all(
      FUNCTION_NAMES.map(async (name) => {
        hosts.set(name, await startHost(name, options, 0));
      }),
    );
  } catch (error) {
    server.close();
    for (const h of hosts.values()) h.child.kill('SIGTERM');
    throw error;
  }
  const host = (fn: FunctionName): Host => {
    const found = hosts.get(fn);
    if (found === undefined) throw new Error(`no function ${fn}`);
    return found;
  };
  const invoke = (fn: FunctionName, event: unknown) => invokeHost(host(fn), event, options.contextToken);

  // Queues.
  const queues = new Map<'execute' | 'cancel', QueuedMessage[]>([
    ['execute', []],
    ['cancel', []],
  ]);
  const deadLetters: { fn: string; messageId: string; body: string }[] = [];
  const batchSize = options.queue?.batchSize ?? 10;
  const visibilityMs = options.queue?.visibilityMs ?? 5_000;
  const maxReceiveCount = options.queue?.maxReceiveCount ?? 5;
  const cutoffMs = options.queue?.cutoffMs ?? 200;
  const busy = new Set<string>();
  let closed = false;

  const pollQueue = async (fn: 'execute' | 'cancel') => {
    if (busy.has(fn) || closed) return;
    const queue = queues.get(fn) ?? [];
    const now = Date.now();
    const visible = queue.filter((message) => message.visibleAt <= now).slice(0, batchSize);
    if (visible.length === 0) return;
    busy.add(fn);
    try {
      for (const message of visible) {
        message.receiveCount++;
        message.visibleAt = now + visibilityMs;
      }
      const event = queueEvent(
        visible.map(
          (m): QueueMessageInput => ({
            messageId: m.messageId,
            body: m.body,
            sentAt: m.sentAt,
            receiveCount: m.receiveCount,
          }),
        ),
      );
      const result = await invoke(fn, event);
      if (result.ok) {
        // Success: the trigger deletes the whole batch.
        queues.set(
          fn,
          (queues.get(fn) ?? []).filter((m) => !visible.includes(m)),
        );
      } else {
        // The message text is the one tests and people search for: keep it stable.
        note(
          'WARN',
          `queue trigger ${fn}: invocation failed (${result.errorMessage}); batch of ${visible.length} will be redelivered`,
        );
        for (const message of visible) {
          if (message.receiveCount >= maxReceiveCount) {
            deadLetters.push({ fn, messageId: message.messageId, body: message.body });
            queues.set(
              fn,
              (queues.get(fn) ?? []).filter((m) => m !== message),
            );
            note('ERROR', `queue ${fn}: message ${message.messageId} moved to the dead-letter queue`, {
              receives: message.receiveCount,
            });
          }
        }
      }
    } catch (error) {
      note('ERROR', `queue trigger ${fn} failed`, { error: (error as Error).message });
    } finally {
      busy.delete(fn);
    }
  };
  const queueTimer = setInterval(() => {
    void pollQueue('execute');
    void pollQueue('cancel');
  }, cutoffMs);

  const tick = async (now = new Date()) => {
    const [execute, check] = await Promise.all([
      invoke('execute', timerEvent({ now })),
      invoke('check', timerEvent({ now })),
    ]);
    for (const [fn, result] of [
      ['execute', execute],
      ['check', check],
    ] as const) {
      if (!result.ok) note('WARN', `timer trigger ${fn}: invocation failed`, { error: result.errorMessage });
    }
    return { execute, check };
  };
  const timerMs = options.timerMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  if (timerMs > 0) {
    timer = setInterval(() => {
      tick().catch((error: unknown) => note('ERROR', 'timer failed', { error: (error as Error).message }));
    }, timerMs);
  }

  const send = (fn: 'execute' | 'cancel', body: string): string => {
    const messageId = crypto.randomUUID();
    queues.get(fn)?.push({ messageId, body, sentAt: new Date(), receiveCount: 0, visibleAt: Date.now() });
    options.onQueued?.(fn, messageId, body);
    return messageId;
  };

  const url = `http://127.0.0.1:${port}`;
  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const method = req.method ?? 'GET';
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    const target = route(method, pathname);
    switch (target.kind) {
      case 'not-found':
        sendJson(res, 404, {
          error: {
            code: 'ROUTE_NOT_FOUND',
            message: `no route ${method} ${pathname}; the API is ${GATEWAY_ROUTES.join(', ')}`,
          },
        });
        return;
      case 'method-not-allowed':
        sendJson(
          res,
          405,
          {
            error: {
              code: 'METHOD_NOT_ALLOWED',
              message: `${method} is not allowed on ${pathname}; use ${target.allow.replace(', HEAD', '')}`,
            },
          },
          { Allow: target.allow },
        );
        return;
      case 'index':
        if (options.index !== undefined) {
          options.index(req, res);
          return;
        }
        // The web console, served by the check function as through the gateway's `GET /` route.
        await answerFrom(
          res,
          'check',
          httpEvent({ method, headers: req.headers, url: req.url ?? '/', body, routePath: '/' }),
        );
        return;
      case 'queue': {
        const messageId = send(target.fn, body.toString('utf8'));
        sendJson(res, 200, { messageId });
        return;
      }
      case 'function':
        break;
    }
    const event = httpEvent({
      method,
      headers: req.headers,
      url: req.url ?? '/',
      body,
      ...(target.params === undefined ? {} : { pathParameters: target.params }),
      ...(target.gateway === undefined
        ? {}
        : {
            gateway: {
              specPath: target.gateway.path,
              // What api-gateway/openapi.yaml's integrations set as their `context`.
              operationContext: { api: 'datasphere-runner', operation: target.gateway.operationId },
            },
          }),
    });
    await answerFrom(res, target.fn, event);
  }

  /** Invokes `fn` with an HTTP event and writes its answer as the platform does. */
  async function answerFrom(res: ServerResponse, fn: FunctionName, event: unknown): Promise<void> {
    const result = await invoke(fn, event);
    if (!result.ok) {
      // What the platform does with an unhandled exception (platform.md §6).
      sendJson(
        res,
        502,
        { errorMessage: result.errorMessage, errorType: result.errorType },
        { 'X-Function-Error': 'true' },
      );
      return;
    }
    const answer = result.result as {
      statusCode?: number;
      headers?: Record<string, string>;
      body?: string;
      isBase64Encoded?: boolean;
    } | null;
    if (answer === null || typeof answer.statusCode !== 'number') {
      sendJson(res, 502, { errorType: 'ProxyIntegrationError' });
      return;
    }
    const payload = answer.isBase64Encoded
      ? Buffer.from(answer.body ?? '', 'base64')
      : Buffer.from(answer.body ?? '');
    res.writeHead(answer.statusCode, answer.headers ?? {}).end(payload);
  }
  markReady();

  return {
    url,
    invoke,
    tick,
    send,
    deadLetters,
    async drainQueues(timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        const pending = [...queues.values()].reduce((n, q) => n + q.length, 0);
        if (pending === 0 && busy.size === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error('queues did not drain in time');
    },
    async addInstance(fn) {
      const instance = await startHost(fn, options, extra.length + 1);
      extra.push(instance);
      return (event) => invokeHost(instance, event, options.contextToken);
    },
    async close() {
      closed = true;
      clearInterval(queueTimer);
      if (timer !== undefined) clearInterval(timer);
      server.close();
      server.closeAllConnections();
      const all = [...hosts.values(), ...extra];
      await Promise.all(
        all.map(async (h) => {
          if (h.child.exitCode !== null) return;
          const exited = once(h.child, 'exit');
          h.child.kill('SIGTERM');
          await exited;
        }),
      );
    },
  };
}
