import type { Dispatcher } from 'undici';
import { errorCodeOf, NETWORK_ERROR_CODES, TIMEOUT_ERROR_CODES } from '../net/transient-failure.ts';

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

export { errorCodeOf };

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
    if (code !== undefined && TIMEOUT_ERROR_CODES.has(code)) return { kind: 'timeout', error };
    return {
      kind: 'network',
      errorCode: code ?? 'UNKNOWN',
      transient: code !== undefined && NETWORK_ERROR_CODES.has(code),
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
