import { randomUUID } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { abortableSleep } from '../net/transient-failure.ts';
import { ApiError, type ApiErrorCode, type ApiName, bodySnippet, describeStatus } from './api-error.ts';
import { ResponseShapeError } from './protojson.ts';
import {
  type AttemptOutcome,
  createRetryPolicy,
  errorCodeOf,
  isTransient,
  NETWORK_ERROR_CODES,
  parseDurationMs,
  parseRetryAfter,
  type RetryPolicy,
  TIMEOUT_ERROR_CODES,
} from './retry-policy.ts';
import type { TokenSource } from './token-source.ts';

/** One logical API call; the transport may make several HTTP attempts for it. */
export interface ApiRequest<T> {
  readonly api: ApiName;
  /** `Project.Execute`, `Operation.Get`, … (named in errors). */
  readonly rpc: string;
  readonly method: 'GET' | 'POST';
  /** `https://datasphere.api.cloud.yandex.net`; a path prefix in it is kept. */
  readonly baseUrl: string;
  /** `/datasphere/v2/projects/p1:execute`, already URL-encoded. */
  readonly path: string;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Sent as `Idempotency-Key`, the same on every attempt. Operation-creating POSTs must set it. */
  readonly idempotencyKey?: string | undefined;
  /**
   * Whether the call may be sent again after a failure. Default: GET, or a POST with an
   * idempotency key. A POST without a key is sent once, whatever happens.
   */
  readonly idempotent?: boolean;
  /** Aborting stops the call and any retry at once. */
  readonly signal?: AbortSignal | undefined;
  /** Checks the 2xx JSON body; a throw becomes an ApiError API_BAD_RESPONSE. */
  readonly decode: (json: unknown) => T;
}

export interface HttpTransport {
  /** Sends `req`, retrying transient failures; resolves with the decoded body or throws an ApiError. */
  request<T>(req: ApiRequest<T>): Promise<T>;
}

export interface HttpTransportOptions {
  readonly dispatcher: Dispatcher;
  readonly token: TokenSource;
  /** @default createRetryPolicy({ random }) : 4 attempts, 500 ms ×2 up to 8 s, equal jitter */
  readonly retry?: RetryPolicy;
  /** Per-attempt limit for the whole exchange (connect, headers, body). @default 15000 */
  readonly timeoutMs?: number;
  /** Waits between attempts; must reject (or resolve early) when `signal` aborts. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Jitter source for the default retry policy. */
  readonly random?: () => number;
  /** For HTTP-date Retry-After values. @default Date.now */
  readonly now?: () => number;
  readonly userAgent?: string;
  /** Request-id generator. @default crypto.randomUUID */
  readonly newId?: () => string;
}

export const DEFAULT_USER_AGENT = 'datasphere-runner/0.1';

type AttemptResult =
  | {
      readonly kind: 'answer';
      readonly status: number;
      readonly headers: Readonly<Record<string, string | string[] | undefined>>;
      readonly text: string;
    }
  | {
      readonly kind: 'failed';
      readonly outcome: Exclude<AttemptOutcome, { kind: 'status' }>;
      readonly error: unknown;
    };

/** Marks our own per-attempt timeout, to tell it from the caller's abort. */
class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`no complete answer within ${ms} ms`);
    this.name = 'AttemptTimeout';
  }
}

/**
 * The one HTTP transport of the API module, on an injected undici Dispatcher. Every attempt sends
 * `Authorization: Bearer`, a fresh `x-request-id` UUID, the call's `x-client-trace-id` UUID (the same
 * on every attempt, so support can join them), `user-agent`, `accept`, and for a body `content-type`;
 * an operation-creating POST also sends its `Idempotency-Key`.
 */
export function createHttpTransport(options: HttpTransportOptions): HttpTransport {
  const { dispatcher, token } = options;
  const policy = options.retry ?? createRetryPolicy(options.random ? { random: options.random } : {});
  const timeoutMs = options.timeoutMs ?? 15_000;
  const sleep = options.sleep ?? abortableSleep;
  const now = options.now ?? Date.now;
  const userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
  const newId = options.newId ?? randomUUID;

  async function attemptOnce(
    origin: string,
    path: string,
    req: ApiRequest<unknown>,
    headers: Record<string, string>,
  ): Promise<AttemptResult> {
    const controller = new AbortController();
    const onAbort = () => controller.abort(req.signal?.reason);
    req.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => controller.abort(new AttemptTimeout(timeoutMs)), timeoutMs);
    timer.unref?.();
    try {
      const res = await dispatcher.request({
        origin,
        path,
        method: req.method,
        headers,
        body: req.body === undefined ? null : JSON.stringify(req.body),
        signal: controller.signal,
      });
      const text = await res.body.text();
      return { kind: 'answer', status: res.statusCode, headers: res.headers, text };
    } catch (error) {
      if (req.signal?.aborted) throw new CallerAbort(req.signal.reason);
      if (controller.signal.reason instanceof AttemptTimeout) {
        return { kind: 'failed', outcome: { kind: 'timeout' }, error: controller.signal.reason };
      }
      const code = errorCodeOf(error);
      if (code !== undefined && TIMEOUT_ERROR_CODES.has(code)) {
        return { kind: 'failed', outcome: { kind: 'timeout' }, error };
      }
      if (code !== undefined && NETWORK_ERROR_CODES.has(code)) {
        return { kind: 'failed', outcome: { kind: 'network', errorCode: code }, error };
      }
      return {
        kind: 'failed',
        outcome: { kind: 'network', errorCode: code ?? 'UNKNOWN' },
        error: new Fatal(error),
      };
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
    }
  }

  return {
    async request<T>(req: ApiRequest<T>): Promise<T> {
      const base = new URL(req.baseUrl);
      const path = `${base.pathname.replace(/\/+$/, '')}${req.path}`;
      const replaySafe = req.idempotent ?? (req.method === 'GET' || req.idempotencyKey !== undefined);
      const traceId = newId();
      const facts = { api: req.api, rpc: req.rpc, method: req.method, path, clientTraceId: traceId };
      const abortError = (reason: unknown, attempts: number) =>
        new ApiError(
          'API_TIMEOUT',
          { ...facts, retryable: true, attempts },
          `aborted by the caller${reason instanceof Error && reason.message ? ` (${reason.message})` : ''}`,
          { cause: reason },
        );

      for (let attempt = 1; ; attempt++) {
        if (req.signal?.aborted) throw abortError(req.signal.reason, attempt - 1);
        let bearer: string;
        try {
          bearer = await token.getToken(req.signal);
        } catch (error) {
          // A token failure (AUTH_UNAVAILABLE) passes through unchanged; only a caller abort is ours.
          if (req.signal?.aborted) throw abortError(req.signal.reason, attempt - 1);
          throw error;
        }
        const headers: Record<string, string> = {
          authorization: `Bearer ${bearer}`,
          accept: 'application/json',
          'user-agent': userAgent,
          'x-request-id': newId(),
          'x-client-trace-id': traceId,
        };
        if (req.body !== undefined) headers['content-type'] = 'application/json';
        if (req.idempotencyKey !== undefined) headers['idempotency-key'] = req.idempotencyKey;

        let result: AttemptResult;
        try {
          result = await attemptOnce(base.origin, path, req, headers);
        } catch (error) {
          if (error instanceof CallerAbort) throw abortError(error.reason, attempt);
          throw error;
        }

        if (result.kind === 'answer' && result.status >= 200 && result.status < 300) {
          return decodeAnswer(req, result, { ...facts, attempts: attempt });
        }

        const failure =
          result.kind === 'answer'
            ? statusFailure(result, { ...facts, attempts: attempt }, now())
            : transportFailure(result, { ...facts, attempts: attempt });
        const fatal = result.kind === 'failed' && result.error instanceof Fatal;
        const wait = replaySafe && !fatal ? policy.shouldRetry(attempt, failure.outcome) : undefined;
        if (wait === undefined) throw failure.error;
        try {
          await sleep(wait, req.signal);
        } catch (error) {
          if (req.signal?.aborted) throw abortError(req.signal.reason, attempt);
          throw error;
        }
      }
    },
  };
}

/** Thrown out of an attempt when the caller's signal aborted it. */
class CallerAbort {
  constructor(readonly reason: unknown) {}
}
/** Wraps an error that no retry can fix (a bug, an invalid argument to undici, TLS). */
class Fatal {
  constructor(readonly error: unknown) {}
}

type CallFacts = {
  readonly api: ApiName;
  readonly rpc: string;
  readonly method: string;
  readonly path: string;
  readonly clientTraceId: string;
  readonly attempts: number;
};

function header(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  name: string,
): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function decodeAnswer<T>(
  req: ApiRequest<T>,
  answer: Extract<AttemptResult, { kind: 'answer' }>,
  facts: CallFacts,
): T {
  const ids = {
    requestId: header(answer.headers, 'x-request-id'),
    serverTraceId: header(answer.headers, 'x-server-trace-id'),
  };
  let json: unknown;
  try {
    json = JSON.parse(answer.text);
  } catch {
    // No cause: V8's SyntaxError quotes the body around the fault, which may be inside a session
    // token; the snippet below is scrubbed (bodySnippet).
    const what =
      answer.text.trim() === '' ? 'an empty body' : `a body that is not JSON: "${bodySnippet(answer.text)}"`;
    throw new ApiError(
      'API_BAD_RESPONSE',
      { ...facts, ...ids, httpStatus: answer.status, retryable: false, field: '(body)' },
      `${answer.status} with ${what}`,
    );
  }
  try {
    return req.decode(json);
  } catch (error) {
    const field = error instanceof ResponseShapeError ? error.field : undefined;
    const problem =
      error instanceof ResponseShapeError ? error.message : String((error as Error)?.message ?? error);
    throw new ApiError(
      'API_BAD_RESPONSE',
      { ...facts, ...ids, httpStatus: answer.status, retryable: false, field },
      `unexpected response: ${problem}`,
      { cause: error },
    );
  }
}

interface ParsedErrorBody {
  readonly rpcCode?: number;
  readonly message?: string;
  readonly requestId?: string;
  readonly retryDelayMs?: number;
  readonly resourceNames?: readonly string[];
}

/** Reads `{code, message, details}` if the body is one; anything else yields a snippet. */
function parseErrorBody(text: string): ParsedErrorBody {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return text.trim() === '' ? {} : { message: bodySnippet(text) };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { message: bodySnippet(text) };
  const body = json as { code?: unknown; message?: unknown; details?: unknown };
  const out: {
    rpcCode?: number;
    message?: string;
    requestId?: string;
    retryDelayMs?: number;
    resourceNames?: string[];
  } = {};
  if (typeof body.code === 'number' && Number.isInteger(body.code)) out.rpcCode = body.code;
  if (typeof body.message === 'string') out.message = bodySnippet(body.message, 500);
  else if (out.rpcCode === undefined) out.message = bodySnippet(text);
  if (Array.isArray(body.details)) {
    for (const detail of body.details as unknown[]) {
      if (typeof detail !== 'object' || detail === null) continue;
      const d = detail as Record<string, unknown>;
      const type = typeof d['@type'] === 'string' ? d['@type'] : '';
      if (type.endsWith('.RequestInfo') && typeof d.requestId === 'string') out.requestId = d.requestId;
      if (type.endsWith('.RetryInfo')) {
        const ms = parseDurationMs(d.retryDelay);
        if (ms !== undefined) out.retryDelayMs = ms;
      }
      if (type.endsWith('.ResourceInfo') && typeof d.resourceName === 'string' && d.resourceName !== '') {
        out.resourceNames = [...(out.resourceNames ?? []), d.resourceName];
      }
    }
  }
  return out;
}

function statusFailure(
  answer: Extract<AttemptResult, { kind: 'answer' }>,
  facts: CallFacts,
  nowMs: number,
): { outcome: AttemptOutcome; error: ApiError } {
  const body = parseErrorBody(answer.text);
  const retryAfterMs = parseRetryAfter(header(answer.headers, 'retry-after'), nowMs) ?? body.retryDelayMs;
  const outcome: AttemptOutcome = {
    kind: 'status',
    status: answer.status,
    rpcCode: body.rpcCode,
    retryAfterMs,
  };
  const error = new ApiError(
    'API_ERROR',
    {
      ...facts,
      httpStatus: answer.status,
      rpcCode: body.rpcCode,
      apiMessage: body.message,
      requestId: header(answer.headers, 'x-request-id') ?? body.requestId,
      serverTraceId: header(answer.headers, 'x-server-trace-id'),
      resourceNames: body.resourceNames,
      retryable: isTransient(outcome),
    },
    describeStatus(answer.status, body.rpcCode, body.message),
  );
  return { outcome, error };
}

function transportFailure(
  failed: Extract<AttemptResult, { kind: 'failed' }>,
  facts: CallFacts,
): { outcome: AttemptOutcome; error: ApiError } {
  const cause = failed.error instanceof Fatal ? failed.error.error : failed.error;
  const detail = cause instanceof Error ? cause.message : String(cause);
  const outcome = failed.outcome;
  let code: ApiErrorCode;
  let problem: string;
  if (outcome.kind === 'network') {
    // A connect timeout counts as unreachable: no server ever saw the request.
    code = 'API_UNREACHABLE';
    const extra = detail && !detail.includes(outcome.errorCode) ? `: ${detail}` : '';
    problem = `connection failed (${outcome.errorCode}${extra})`;
  } else {
    code = 'API_TIMEOUT';
    problem = `timed out (${detail})`;
  }
  return {
    outcome,
    error: new ApiError(code, { ...facts, retryable: !(failed.error instanceof Fatal) }, problem, { cause }),
  };
}
