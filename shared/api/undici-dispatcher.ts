import type { Dispatcher } from 'undici';
import request from 'undici/lib/api/api-request.js';
import Agent from 'undici/lib/dispatcher/agent.js';

export interface DispatcherOptions {
  /**
   * Connections per origin at most; requests beyond it wait in undici's queue (inside the callers'
   * per-attempt timeouts). Give it the sweep's concurrency (CHECK_CONCURRENCY) so 32 Operation.Get
   * calls in flight each have a socket. @default 32
   */
  readonly connections?: number;
  /** TCP (+ TLS) connect timeout. @default 5000 */
  readonly connectTimeoutMs?: number;
  /**
   * Backstops for the headers and for the gap between two body chunks; the callers' own per-attempt
   * limits (an AbortSignal, 15 s in the API transport) are shorter and fire first. @default 60000
   */
  readonly headersTimeoutMs?: number;
  readonly bodyTimeoutMs?: number;
  /** Idle time after which a kept-alive socket is closed (a server's shorter Keep-Alive hint wins). @default 10000 */
  readonly keepAliveTimeoutMs?: number;
  /**
   * An answer larger than this fails with UND_ERR_RES_EXCEEDED_MAX_SIZE instead of filling memory
   * (the largest legitimate one, a Document API page, is about 1 MB). @default 8 MiB
   */
  readonly maxResponseBytes?: number;
}

/**
 * undici's Agent with `request()`. The package entry (`import … from 'undici'`) would add `request` to
 * every dispatcher, and with it fetch, WebSocket, the cache and mock layers and more (about twice the
 * bundle and cold-start cost, issue #14); only the Agent and the request API are imported here, and
 * `request` is given to this subclass alone, leaving undici's shared prototypes as they are.
 */
class RequestAgent extends Agent {}
Object.defineProperty(RequestAgent.prototype, 'request', {
  value: request,
  writable: true,
  configurable: true,
});

/**
 * The one keep-alive HTTP client of a function instance (Yandex APIs, the Document API, the metadata
 * service, notifications): undici's Agent, created once per warm container and injected everywhere a
 * `Dispatcher` is taken, so tests pass an undici MockAgent to the same code. A pool per origin with at
 * most `connections` sockets; HTTP/1.1 (no h2). Before a socket that sat idle is reused, undici lets the
 * event loop read what arrived on it meanwhile: a socket the server closed while the instance was
 * frozen is dropped, not written to (test/api/frozen-instance.test.ts), so a POST that cannot be
 * retried does not die with ECONNRESET. Errors carry undici's codes (UND_ERR_CONNECT_TIMEOUT,
 * UND_ERR_HEADERS_TIMEOUT, UND_ERR_BODY_TIMEOUT, UND_ERR_SOCKET, ECONNREFUSED…), which
 * net/transient-failure.ts classifies.
 */
export function createDispatcher(options: DispatcherOptions = {}): Dispatcher {
  const connections = options.connections ?? 32;
  if (!Number.isInteger(connections) || connections < 1) {
    throw new RangeError(`connections must be a positive integer, got ${connections}`);
  }
  return new RequestAgent({
    connections,
    connectTimeout: options.connectTimeoutMs ?? 5_000,
    headersTimeout: options.headersTimeoutMs ?? 60_000,
    bodyTimeout: options.bodyTimeoutMs ?? 60_000,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 10_000,
    maxResponseSize: options.maxResponseBytes ?? 8 * 1024 * 1024,
  });
}
