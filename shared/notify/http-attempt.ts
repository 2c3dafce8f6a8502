import type { Dispatcher } from 'undici';

/** How one HTTP POST attempt ended. Never throws: every outcome is a value. */
export type AttemptResult =
  | {
      readonly kind: 'answer';
      readonly status: number;
      readonly headers: Readonly<Record<string, string | string[] | undefined>>;
      /** The body, cut at `maxBodyChars`. */
      readonly text: string;
    }
  /** No complete answer within our per-attempt timeout (or undici's headers/body timeout). */
  | { readonly kind: 'timeout'; readonly error: unknown }
  /** The connection failed; `transient` says whether another attempt may fix it. */
  | {
      readonly kind: 'network';
      readonly errorCode: string;
      readonly transient: boolean;
      readonly error: unknown;
    }
  /** The caller's signal aborted the attempt. */
  | { readonly kind: 'aborted'; readonly reason: unknown };

export interface PostRequest {
  /** `https://host:port` */
  readonly origin: string;
  /** Path and query, already encoded. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** @default 16384 */
  readonly maxBodyChars?: number;
}

/** Marks our own per-attempt timeout, to tell it from the caller's abort. */
class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'AttemptTimeout';
  }
}

/**
 * Error codes of dropped, refused or reset connections that a later attempt may not meet again.
 * Anything else (ENOTFOUND, TLS certificate errors, invalid arguments) fails the delivery at once.
 */
const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
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

const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The most telling `code` in an error and its `cause` chain (undici wraps socket errors). */
export function errorCodeOf(error: unknown): string | undefined {
  let first: string | undefined;
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (TRANSIENT_NETWORK_CODES.has(code) || TIMEOUT_CODES.has(code)) return code;
      first ??= code;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return first;
}

/** One POST through `dispatcher`, bounded by `timeoutMs` for connect, headers and body together. */
export async function postOnce(dispatcher: Dispatcher, req: PostRequest): Promise<AttemptResult> {
  if (req.signal?.aborted) return { kind: 'aborted', reason: req.signal.reason };
  const controller = new AbortController();
  const onAbort = () => controller.abort(req.signal?.reason);
  req.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new AttemptTimeout(req.timeoutMs)), req.timeoutMs);
  timer.unref?.();
  try {
    const res = await dispatcher.request({
      origin: req.origin,
      path: req.path,
      method: 'POST',
      headers: req.headers,
      body: req.body,
      signal: controller.signal,
    });
    const text = await readCapped(res.body, req.maxBodyChars ?? 16_384);
    return { kind: 'answer', status: res.statusCode, headers: res.headers, text };
  } catch (error) {
    if (req.signal?.aborted) return { kind: 'aborted', reason: req.signal.reason };
    if (controller.signal.reason instanceof AttemptTimeout)
      return { kind: 'timeout', error: controller.signal.reason };
    const code = errorCodeOf(error);
    if (code !== undefined && TIMEOUT_CODES.has(code)) return { kind: 'timeout', error };
    return {
      kind: 'network',
      errorCode: code ?? 'UNKNOWN',
      transient: code !== undefined && TRANSIENT_NETWORK_CODES.has(code),
      error,
    };
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Reads at most `max` characters of the body. A longer body is cut off (and its socket closed): an
 * error page of megabytes must not cost the function its memory or time.
 */
async function readCapped(body: Dispatcher.ResponseData['body'], max: number): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of body) {
    text += decoder.decode(chunk as Uint8Array, { stream: true });
    if (text.length >= max) return text.slice(0, max);
  }
  return text + decoder.decode();
}
