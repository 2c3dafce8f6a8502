/**
 * The runner's HTTP API as the CLI uses it (design.md §6, §8): `POST /runs`, `GET /runs/{id}`,
 * `POST /runs/{id}/cancel`, `GET /runs`. Sends the caller's credentials (an IAM token as
 * `Authorization: Bearer`, an API key as `X-Api-Key`) and turns every failure into a ServiceError that
 * says what happened in words, with the service's own code and message.
 *
 * Retries: a 503 and a dropped or timed-out connection are tried twice more (1 s, 2 s), since every
 * call here is safe to repeat (a start always carries an Idempotency-Key). A refused connection (or
 * any other failure to connect) is not retried: the service is not there, and the person should hear
 * that at once.
 */
import { redactSecrets } from '../shared/redact.ts';
import type { CliIo } from './cli-io.ts';
import { isRemoteRun, type RemoteRun } from './remote-run.ts';

export interface Target {
  readonly url: string;
  readonly token?: string;
  readonly apiKey?: string;
}

export type ServiceErrorKind =
  /** No answer: connection refused, host unknown, timeout. */
  | 'unreachable'
  /** A 4xx: the request is wrong, not allowed, or about an unknown run. */
  | 'refused'
  /** A 5xx, or an answer that is not what the API promises. */
  | 'failed';

export interface ServiceErrorDetails {
  readonly status?: number;
  /** The service's stable error code (`INVALID_REQUEST`, `RUN_NOT_FOUND`...). */
  readonly code?: string;
  /** Every problem the service listed (`error.errors[]`), or just its message. */
  readonly problems?: readonly string[];
  /** A run the error body carries (a rejected start, the run already running...). */
  readonly run?: RemoteRun;
  /** The parsed error body, for `--json`. */
  readonly body?: unknown;
  readonly hint?: string;
}

export class ServiceError extends Error {
  readonly kind: ServiceErrorKind;
  readonly details: ServiceErrorDetails;
  constructor(kind: ServiceErrorKind, message: string, details: ServiceErrorDetails = {}) {
    super(message);
    this.name = 'ServiceError';
    this.kind = kind;
    this.details = details;
  }
}

export interface RunsPage {
  readonly runs: readonly RemoteRun[];
  readonly nextCursor: string | null;
}

export interface ServiceClient {
  readonly url: string;
  startRun(body: Readonly<Record<string, unknown>>, idempotencyKey: string): Promise<StartAnswer>;
  getRun(runId: string): Promise<RemoteRun>;
  cancelRun(runId: string): Promise<CancelAnswer>;
  listRuns(query: URLSearchParams): Promise<RunsPage>;
}

export interface StartAnswer {
  readonly run: RemoteRun;
  /** The same Idempotency-Key had already started this run: nothing new started. */
  readonly replayed: boolean;
}

export interface CancelAnswer {
  readonly run: RemoteRun;
  /** The run had ended before the cancel arrived: nothing was cancelled. */
  readonly alreadyFinished: boolean;
}

export interface ServiceClientOptions {
  readonly timeoutMs?: number;
  readonly retries?: number;
  readonly userAgent?: string;
}

const NETWORK_WORDS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
  UND_ERR_BODY_TIMEOUT: 'answer stalled',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed TLS certificate',
};
/**
 * Network failures that may pass: a dropped or stalled connection. Anything else (refused, unknown
 * host, a port fetch will not use, TLS) says the service is not there: retrying only delays the news.
 */
const PASSING = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

export function createServiceClient(
  target: Target,
  io: Pick<CliIo, 'fetch' | 'sleep' | 'interrupt'>,
  options: ServiceClientOptions = {},
): ServiceClient {
  const base = target.url.endsWith('/') ? target.url : `${target.url}/`;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const retries = options.retries ?? 2;

  const headers = (extra: Record<string, string>): Record<string, string> => ({
    accept: 'application/json',
    'user-agent': options.userAgent ?? 'datasphere-runner-cli',
    ...(target.token === undefined ? {} : { authorization: `Bearer ${target.token}` }),
    ...(target.apiKey === undefined ? {} : { 'x-api-key': target.apiKey }),
    ...extra,
  });

  interface Answer {
    readonly status: number;
    readonly body: unknown;
    readonly headers: Headers;
  }

  async function once(method: string, path: string, body: string | undefined, extra: Record<string, string>) {
    const url = new URL(path, base);
    const signal = AbortSignal.any([io.interrupt, AbortSignal.timeout(timeoutMs)]);
    let response: Response;
    try {
      response = await io.fetch(url, {
        method,
        headers: headers(body === undefined ? extra : { 'content-type': 'application/json', ...extra }),
        ...(body === undefined ? {} : { body }),
        signal,
      });
    } catch (error) {
      throw networkError(error, target.url, io.interrupt.aborted, timeoutMs);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw networkError(error, target.url, io.interrupt.aborted, timeoutMs);
    }
    let parsed: unknown = text;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON: kept as text for the error message.
      }
    }
    return { status: response.status, body: parsed, headers: response.headers } satisfies Answer;
  }

  async function call(
    method: string,
    path: string,
    body?: unknown,
    extra: Record<string, string> = {},
  ): Promise<Answer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      let answer: Answer;
      try {
        answer = await once(method, path, payload, extra);
      } catch (error) {
        if (!(error instanceof NetworkFailure)) throw error;
        if (!error.retryable || attempt >= retries || io.interrupt.aborted) throw error.error;
        await io.sleep(1000 * 2 ** attempt, io.interrupt);
        continue;
      }
      if (answer.status === 503 && attempt < retries && !io.interrupt.aborted) {
        const after = Number(answer.headers.get('retry-after'));
        const delay = Number.isFinite(after) && after > 0 ? Math.min(after, 5) * 1000 : 1000 * 2 ** attempt;
        await io.sleep(delay, io.interrupt);
        continue;
      }
      if (answer.status >= 200 && answer.status < 300) return answer;
      throw answerError(method, path, answer.status, answer.body);
    }
  }

  const runOf = (answer: Answer, what: string): RemoteRun => {
    if (isRemoteRun(answer.body)) return answer.body;
    throw new ServiceError('failed', `the service answered ${what} with something that is not a run record`, {
      status: answer.status,
      body: answer.body,
    });
  };

  const runPath = (runId: string) => `runs/${encodeURIComponent(runId)}`;

  return {
    url: target.url,
    async startRun(body, idempotencyKey) {
      const answer = await call('POST', 'runs', body, { 'idempotency-key': idempotencyKey });
      return {
        run: runOf(answer, 'the start'),
        replayed: answer.headers.get('idempotent-replayed') === 'true',
      };
    },
    async getRun(runId) {
      return runOf(await call('GET', runPath(runId)), 'the status request');
    },
    async cancelRun(runId) {
      try {
        const answer = await call('POST', `${runPath(runId)}/cancel`);
        const run = runOf(answer, 'the cancel');
        return { run, alreadyFinished: false };
      } catch (error) {
        // design.md §6: cancelling a run that has ended answers 409 RUN_ALREADY_FINISHED with the record.
        if (
          error instanceof ServiceError &&
          error.details.code === 'RUN_ALREADY_FINISHED' &&
          error.details.run !== undefined
        ) {
          return { run: error.details.run, alreadyFinished: true };
        }
        throw error;
      }
    },
    async listRuns(query) {
      const search = query.toString();
      const answer = await call('GET', search === '' ? 'runs' : `runs?${search}`);
      const body = answer.body as { runs?: unknown; nextCursor?: unknown } | null;
      if (
        body === null ||
        typeof body !== 'object' ||
        !Array.isArray(body.runs) ||
        !body.runs.every(isRemoteRun) ||
        (body.nextCursor !== null && body.nextCursor !== undefined && typeof body.nextCursor !== 'string')
      ) {
        throw new ServiceError(
          'failed',
          'the service answered the runs list with something that is not a page of runs',
          {
            status: answer.status,
            body: answer.body,
          },
        );
      }
      return { runs: body.runs, nextCursor: typeof body.nextCursor === 'string' ? body.nextCursor : null };
    },
  };
}

/** A request that got no answer, and whether asking again may help. Never leaves the client. */
class NetworkFailure extends Error {
  readonly error: Error;
  readonly retryable: boolean;
  constructor(error: Error, retryable: boolean) {
    super(error.message);
    this.error = error;
    this.retryable = retryable;
  }
}

function networkError(error: unknown, url: string, interrupted: boolean, timeoutMs: number): NetworkFailure {
  if (interrupted) return new NetworkFailure(new InterruptedError(), false);
  const e = error as { name?: string; cause?: { code?: string; name?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.cause?.name === 'TimeoutError') {
    const message = `no answer from ${url} within ${Math.round(timeoutMs / 1000)} s`;
    return new NetworkFailure(new ServiceError('unreachable', message), true);
  }
  const code = e.cause?.code ?? (error as { code?: string }).code;
  const words = (code === undefined ? undefined : NETWORK_WORDS[code]) ?? e.cause?.message ?? String(error);
  const retryable = code !== undefined && PASSING.has(code);
  return new NetworkFailure(new ServiceError('unreachable', `cannot reach ${url}: ${words}`), retryable);
}

/** Ctrl-C while a request was in flight. */
export class InterruptedError extends Error {
  constructor() {
    super('interrupted');
    this.name = 'InterruptedError';
  }
}

/**
 * A non-2xx answer as a ServiceError: the product's `{"error": {"code", "message", "errors"?}}`, the
 * platform's `{"errorMessage"}` (a function that crashed), or any text.
 */
export function answerError(method: string, path: string, status: number, body: unknown): ServiceError {
  const kind: ServiceErrorKind = status >= 400 && status < 500 ? 'refused' : 'failed';
  const error = (body as { error?: unknown } | null)?.error;
  if (typeof error === 'object' && error !== null) {
    const e = error as { code?: unknown; message?: unknown; errors?: unknown; field?: unknown };
    const code = typeof e.code === 'string' ? e.code : undefined;
    // The service's words are shown as they are, but scrubbed of anything token-shaped.
    const message = typeof e.message === 'string' ? redactSecrets(e.message) : `HTTP ${status}`;
    const problems =
      Array.isArray(e.errors) && e.errors.length > 0
        ? e.errors.map((item) => redactSecrets(problemText(item)))
        : [message];
    const run = (body as { run?: unknown }).run;
    return new ServiceError(kind, message, {
      status,
      ...(code === undefined ? {} : { code }),
      problems,
      ...(isRemoteRun(run) ? { run } : {}),
      body,
      ...(status === 401 || status === 403 ? { hint: credentialHint(status, code) } : {}),
    });
  }
  const platform = (body as { errorMessage?: unknown } | null)?.errorMessage;
  const text = redactSecrets(
    typeof platform === 'string'
      ? platform
      : typeof body === 'string' && body.trim() !== ''
        ? body.trim().slice(0, 300)
        : `no error details (${method} /${path.split('?')[0]})`,
  );
  return new ServiceError(kind, text, {
    status,
    problems: [text],
    body,
    ...(status === 404 ? { hint: 'is --url the runner service (the API Gateway or npm start)?' } : {}),
    ...(status === 401 || status === 403 ? { hint: credentialHint(status, undefined) } : {}),
  });
}

function credentialHint(status: number, code: string | undefined): string {
  if (status === 403 && code === 'PROJECT_NOT_ALLOWED')
    return 'the service is not allowed to act on this project (ALLOWED_PROJECTS)';
  return status === 401
    ? 'send credentials: --token / YC_IAM_TOKEN or --api-key / DATASPHERE_RUNNER_API_KEY'
    : 'these credentials may not do this';
}

function problemText(item: unknown): string {
  if (typeof item === 'string') return item;
  if (typeof item === 'object' && item !== null) {
    const p = item as { field?: unknown; message?: unknown; code?: unknown };
    const message = typeof p.message === 'string' ? p.message : JSON.stringify(item);
    const field = typeof p.field === 'string' && p.field !== '' ? p.field : undefined;
    return field === undefined || message.startsWith(`${field}:`) ? message : `${field}: ${message}`;
  }
  return String(item);
}
