import type { ClientRequest, Agent as HttpAgent, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';

export interface DispatcherOptions {
  /**
   * Idle time after which a kept-alive socket is closed (a server's shorter `Keep-Alive: timeout=`
   * hint wins). @default 10000
   */
  readonly keepAliveTimeoutMs?: number;
  /** TCP (+ TLS) connect timeout. @default 5000 */
  readonly connectTimeoutMs?: number;
  /**
   * Backstops for headers and body (between two chunks); the callers' own per-request timeouts (an
   * AbortSignal) are normally shorter and fire first. @default 60000
   */
  readonly headersTimeoutMs?: number;
  readonly bodyTimeoutMs?: number;
}

/** The part of undici's `Dispatcher.request` options every caller in shared/ uses. */
interface RequestOptions {
  readonly origin: string | URL;
  readonly path: string;
  readonly method: string;
  readonly headers?: Record<string, string> | null;
  readonly body?: string | Uint8Array | null;
  readonly signal?: AbortSignal | null;
  readonly headersTimeout?: number | null;
  readonly bodyTimeout?: number | null;
}

/** The response body: undici's async iteration and `text()`, which is all shared/ reads. */
interface ResponseBody extends AsyncIterable<Uint8Array> {
  text(): Promise<string>;
  dump(): Promise<void>;
}

/** An error carrying undici's code, so retry classification treats both clients alike. */
class HttpClientError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'HttpClientError';
    this.code = code;
  }
}

type HttpModule = typeof import('node:http');

/**
 * One keep-alive HTTP client for all outgoing calls (Yandex APIs, the Document API, the metadata
 * service, notifications), on node's own `http`/`https`. It implements the part of undici's Dispatcher
 * that shared/ calls (`request()` with origin, path, method, headers, string body, signal, headers and
 * body timeouts; `close()`), so tests keep passing an undici MockAgent instead.
 *
 * Why not undici's Agent: loading undici costs a cold start ~+470 M instructions and 520 KB of
 * bundle (bench/results.md); node's client is built in. `node:http`/`node:https` are loaded on the
 * first request to such an origin, so an instance that only ever calls https never loads plain http.
 * Timeouts and socket errors carry undici's codes (UND_ERR_CONNECT_TIMEOUT, UND_ERR_HEADERS_TIMEOUT,
 * UND_ERR_BODY_TIMEOUT; ECONNRESET etc. as node reports them). Create it once per warm container so
 * sockets and TLS sessions are reused; a socket gone stale while the instance was frozen shows up as
 * ECONNRESET on the next call, which the transport retries.
 */
export function createDispatcher(options: DispatcherOptions = {}): Dispatcher {
  const keepAliveTimeout = options.keepAliveTimeoutMs ?? 10_000;
  const connectTimeout = options.connectTimeoutMs ?? 5_000;
  const defaultHeadersTimeout = options.headersTimeoutMs ?? 60_000;
  const defaultBodyTimeout = options.bodyTimeoutMs ?? 60_000;
  const agents = new Map<string, { module: HttpModule; agent: HttpAgent }>();
  let closed = false;

  const clientFor = (protocol: string) => {
    let client = agents.get(protocol);
    if (client === undefined) {
      if (protocol !== 'http:' && protocol !== 'https:') {
        throw new HttpClientError('UND_ERR_INVALID_ARG', `unsupported protocol ${protocol}`);
      }
      const module = process.getBuiltinModule(
        protocol === 'https:' ? 'node:https' : 'node:http',
      ) as HttpModule;
      const agent = new module.Agent({ keepAlive: true, timeout: keepAliveTimeout, scheduling: 'lifo' });
      client = { module, agent };
      agents.set(protocol, client);
    }
    return client;
  };

  const request = (opts: RequestOptions): Promise<Dispatcher.ResponseData> =>
    new Promise((resolve, reject) => {
      if (closed) {
        reject(new HttpClientError('UND_ERR_CLOSED', 'the dispatcher is closed'));
        return;
      }
      const signal = opts.signal ?? undefined;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      // Like undici: the origin says where to connect, the path is sent as given (never re-resolved).
      const url = new URL(opts.origin);
      const { module, agent } = clientFor(url.protocol);
      const body = opts.body ?? undefined;
      const headers: OutgoingHttpHeaders = { ...opts.headers };
      if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
      const headersTimeout = opts.headersTimeout ?? defaultHeadersTimeout;
      const bodyTimeout = opts.bodyTimeout ?? defaultBodyTimeout;

      let settled = false;
      let res: IncomingMessage | undefined;
      const timers: ReturnType<typeof setTimeout>[] = [];
      const later = (ms: number, fn: () => void) => {
        const timer = setTimeout(fn, ms);
        timer.unref();
        timers.push(timer);
        return timer;
      };
      const cleanup = () => {
        for (const timer of timers) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (error: unknown) => {
        cleanup();
        if (!settled) {
          settled = true;
          reject(error);
        }
      };
      const onAbort = () => {
        const reason = signal?.reason;
        req.destroy(reason instanceof Error ? reason : new Error('aborted'));
        res?.destroy(reason instanceof Error ? reason : new Error('aborted'));
        fail(reason);
      };

      const req: ClientRequest = module.request({
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port,
        path: opts.path,
        method: opts.method,
        headers,
        agent,
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', fail);
      later(headersTimeout, () =>
        req.destroy(new HttpClientError('UND_ERR_HEADERS_TIMEOUT', `no headers within ${headersTimeout} ms`)),
      );
      req.on('socket', (socket) => {
        // A reused keep-alive socket is already connected; only a new one gets the connect timeout.
        if (!socket.connecting) return;
        const timer = later(connectTimeout, () =>
          req.destroy(
            new HttpClientError('UND_ERR_CONNECT_TIMEOUT', `connect timeout after ${connectTimeout} ms`),
          ),
        );
        socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(timer));
      });
      req.on('response', (message) => {
        res = message;
        // A body nobody reads must not crash the process when its socket dies; readers see the error.
        message.on('error', () => undefined);
        for (const timer of timers.splice(0)) clearTimeout(timer);
        settled = true;
        resolve({
          statusCode: message.statusCode ?? 0,
          headers: message.headers,
          body: responseBody(message, bodyTimeout, () => signal?.removeEventListener('abort', onAbort)),
          trailers: {},
          opaque: null,
          context: {},
        } as unknown as Dispatcher.ResponseData);
      });
      req.end(body);
    });

  const close = async (): Promise<void> => {
    closed = true;
    for (const { agent } of agents.values()) agent.destroy();
    agents.clear();
  };

  return { request, close, destroy: close } as unknown as Dispatcher;
}

/** Reads `message` chunk by chunk; a gap longer than `bodyTimeout` destroys it with UND_ERR_BODY_TIMEOUT. */
function responseBody(message: IncomingMessage, bodyTimeout: number, done: () => void): ResponseBody {
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const source = message[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
    try {
      for (;;) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const gap = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const error = new HttpClientError('UND_ERR_BODY_TIMEOUT', `body stalled for ${bodyTimeout} ms`);
            message.destroy(error);
            reject(error);
          }, bodyTimeout);
          timer.unref();
        });
        let next: IteratorResult<Uint8Array>;
        try {
          next = await Promise.race([source.next(), gap]);
        } finally {
          clearTimeout(timer);
        }
        if (next.done) return;
        yield next.value;
      }
    } finally {
      // Stopping early (a capped read) closes the socket rather than leaving a half-read answer on it.
      if (!message.complete) message.destroy();
      done();
    }
  }
  return {
    [Symbol.asyncIterator]: chunks,
    async text() {
      const parts: Uint8Array[] = [];
      for await (const chunk of chunks()) parts.push(chunk);
      return Buffer.concat(parts).toString('utf8');
    },
    async dump() {
      for await (const _ of chunks());
    },
  };
}
