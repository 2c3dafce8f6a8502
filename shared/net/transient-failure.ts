import { setTimeout as delay } from 'node:timers/promises';

/**
 * What every HTTP client of the product (the Yandex API transport, the notification senders, the
 * Document API store) agrees on about transient failures: which socket errors a later attempt may not
 * meet again, how to read `Retry-After`, and an abortable sleep. One module, so the rules cannot drift.
 */

/**
 * Error codes of dropped, refused or reset connections (node and undici). Timeouts are listed apart.
 * Anything else (TLS failures, ENOTFOUND, invalid arguments) is not worth retrying.
 */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/** Error codes of an answer that did not come (or finish) in time. */
export const TIMEOUT_ERROR_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * The most telling `code` in an error and its `cause` chain (undici wraps socket errors): the first
 * network or timeout code found, else the first code at all.
 */
export function errorCodeOf(error: unknown): string | undefined {
  let first: string | undefined;
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (NETWORK_ERROR_CODES.has(code) || TIMEOUT_ERROR_CODES.has(code)) return code;
      first ??= code;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return first;
}

/**
 * A Retry-After header in ms: delta-seconds (`"120"`) or an HTTP date relative to `nowMs`. Undefined
 * for a missing or unreadable value (the normal backoff applies then).
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** Waits `ms`; rejects as soon as `signal` aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, signal ? { signal } : {});
}
