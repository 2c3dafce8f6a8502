import { Agent, type Dispatcher } from 'undici';

export interface DispatcherOptions {
  /** Idle time after which a kept-alive socket is closed. @default 10000 */
  readonly keepAliveTimeoutMs?: number;
  /** Upper bound for a server's `Keep-Alive: timeout=` hint. @default 60000 */
  readonly keepAliveMaxTimeoutMs?: number;
  /** TCP + TLS connect timeout. @default 5000 */
  readonly connectTimeoutMs?: number;
  /**
   * Backstops for headers and body; the transport's own per-request timeout (an AbortSignal) is
   * normally shorter and fires first. @default 60000
   */
  readonly headersTimeoutMs?: number;
  readonly bodyTimeoutMs?: number;
}

/**
 * One keep-alive undici Agent for all Yandex API calls. Create it once per warm container (at module
 * scope of a handler, not per invocation) so TLS sessions and sockets are reused across invocations;
 * tests pass their own dispatcher (a MockAgent) instead. A socket gone stale while the instance was
 * frozen shows up as ECONNRESET on the next call, which the transport retries.
 */
export function createDispatcher(options: DispatcherOptions = {}): Dispatcher {
  return new Agent({
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 10_000,
    keepAliveMaxTimeout: options.keepAliveMaxTimeoutMs ?? 60_000,
    headersTimeout: options.headersTimeoutMs ?? 60_000,
    bodyTimeout: options.bodyTimeoutMs ?? 60_000,
    connect: { timeout: options.connectTimeoutMs ?? 5_000 },
  });
}
