import { RunnerError, type RunnerErrorOptions } from '../errors.ts';
import { redactSecrets } from '../redact.ts';
import { httpStatusText, rpcCodeName } from './rpc-codes.ts';

/** Which Yandex API a call went to; named in every message. */
export type ApiName = 'DataSphere' | 'Operation';

export type ApiErrorCode = 'API_ERROR' | 'API_TIMEOUT' | 'API_UNREACHABLE' | 'API_BAD_RESPONSE';

export interface ApiErrorFacts {
  readonly api: ApiName;
  /** `Project.Execute`, `Operation.Get`, … */
  readonly rpc: string;
  readonly method: string;
  /** The request path without its query string. */
  readonly path: string;
  readonly rpcCode?: number | undefined;
  readonly rpcName?: string | undefined;
  readonly httpStatus?: number | undefined;
  /** The server's `message` (redacted), or a short snippet of a non-JSON body. */
  readonly apiMessage?: string | undefined;
  /** `x-request-id` response header, else the `google.rpc.RequestInfo` detail. */
  readonly requestId?: string | undefined;
  /** `x-server-trace-id` response header. */
  readonly serverTraceId?: string | undefined;
  /** The `x-client-trace-id` we sent (the same on every attempt of one call). */
  readonly clientTraceId?: string | undefined;
  /** For API_BAD_RESPONSE: the JSON path of the offending field (`response.executionStatus`). */
  readonly field?: string | undefined;
  /** `resourceName`s of the error body's `google.rpc.ResourceInfo` details (the resource it is about). */
  readonly resourceNames?: readonly string[] | undefined;
  /** Whether trying the same call again later may succeed (transient failure). */
  readonly retryable: boolean;
  /** How many HTTP attempts were made (1 = no retry). */
  readonly attempts: number;
}

/**
 * A Yandex API call failed: the API answered with an error (API_ERROR), did not answer in time
 * (API_TIMEOUT), could not be reached (API_UNREACHABLE), or answered 2xx with a body that is not what it
 * promises (API_BAD_RESPONSE). Carries the facts needed to act on the failure and to ask support about
 * it; never the token, never a session token.
 */
export class ApiError extends RunnerError {
  declare readonly code: ApiErrorCode;
  readonly api: ApiName;
  readonly rpc: string;
  readonly method: string;
  readonly path: string;
  readonly rpcCode: number | undefined;
  readonly rpcName: string | undefined;
  readonly httpStatus: number | undefined;
  readonly apiMessage: string | undefined;
  readonly requestId: string | undefined;
  readonly serverTraceId: string | undefined;
  readonly clientTraceId: string | undefined;
  readonly field: string | undefined;
  readonly resourceNames: readonly string[] | undefined;
  readonly retryable: boolean;
  readonly attempts: number;

  /** `problem` is the part after "failed: "; it is redacted here, so callers need not. */
  constructor(code: ApiErrorCode, facts: ApiErrorFacts, problem: string, options: RunnerErrorOptions = {}) {
    const path = stripQuery(facts.path);
    const trace = facts.requestId === undefined ? '' : ` [request-id ${facts.requestId}]`;
    const tries = facts.attempts > 1 ? ` (after ${facts.attempts} attempts)` : '';
    super(
      code,
      redactSecrets(`${facts.api} ${facts.rpc} ${facts.method} ${path} failed: ${problem}${tries}${trace}`),
      options,
    );
    this.name = 'ApiError';
    this.api = facts.api;
    this.rpc = facts.rpc;
    this.method = facts.method;
    this.path = path;
    this.rpcCode = facts.rpcCode;
    this.rpcName = facts.rpcName ?? (facts.rpcCode === undefined ? undefined : rpcCodeName(facts.rpcCode));
    this.httpStatus = facts.httpStatus;
    this.apiMessage = facts.apiMessage === undefined ? undefined : redactSecrets(facts.apiMessage);
    this.requestId = facts.requestId;
    this.serverTraceId = facts.serverTraceId;
    this.clientTraceId = facts.clientTraceId;
    this.field = facts.field;
    this.resourceNames = facts.resourceNames;
    this.retryable = facts.retryable;
    this.attempts = facts.attempts;
  }

  /** The facts, for logs and error bodies (no stack, no cause, no secrets). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {
      name: this.name,
      code: this.code,
      message: this.message,
      api: this.api,
      rpc: this.rpc,
      method: this.method,
      path: this.path,
      retryable: this.retryable,
      attempts: this.attempts,
    };
    const optional = {
      rpcCode: this.rpcCode,
      rpcName: this.rpcName,
      httpStatus: this.httpStatus,
      apiMessage: this.apiMessage,
      requestId: this.requestId,
      serverTraceId: this.serverTraceId,
      clientTraceId: this.clientTraceId,
      field: this.field,
      resourceNames: this.resourceNames,
    };
    for (const [key, value] of Object.entries(optional)) if (value !== undefined) out[key] = value;
    return out;
  }
}

/** True for an ApiError, even one created by another copy of this module (compares code and name). */
export function isApiError(value: unknown): value is ApiError {
  if (value instanceof ApiError) return true;
  if (!(value instanceof Error) || value.name !== 'ApiError') return false;
  const code: unknown = (value as unknown as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('API_');
}

/** `403 PERMISSION_DENIED (code 7): message`, or `502 Bad Gateway: snippet` when there is no rpc code. */
export function describeStatus(
  httpStatus: number,
  rpcCode: number | undefined,
  apiMessage: string | undefined,
): string {
  const head =
    rpcCode === undefined
      ? `${httpStatus}${httpStatusText(httpStatus) ? ` ${httpStatusText(httpStatus)}` : ''}`
      : `${httpStatus} ${rpcCodeName(rpcCode)} (code ${rpcCode})`;
  const hint = HINTS[rpcCode ?? -1] ?? (rpcCode === undefined ? HTTP_HINTS[httpStatus] : undefined);
  const text = apiMessage ? `: ${apiMessage}` : '';
  return `${head}${text}${hint ? ` (${hint})` : ''}`;
}

const HINTS: Readonly<Record<number, string>> = {
  16: 'the IAM token is missing, invalid or expired',
  7: "the service account lacks a role on the DataSphere project or is not the project's member",
  9: 'the project is not in a state that allows this call, e.g. busy with another run',
};
const HTTP_HINTS: Readonly<Record<number, string>> = {
  401: HINTS[16] ?? '',
};

function stripQuery(path: string): string {
  const cut = path.search(/[?#]/);
  return cut === -1 ? path : path.slice(0, cut);
}

/**
 * A short, single-line, redacted excerpt of a body that is not the JSON we expected (an HTML page from
 * a proxy, plain text): tags dropped, whitespace collapsed, control characters removed, cut at `max`.
 */
export function bodySnippet(body: string, max = 200): string {
  let text = body;
  if (/<[a-z!/][^>]*>/i.test(text)) {
    text = text
      .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<[^>]*>/g, ' ')
      .replace(/&nbsp;/g, ' ')
      .replace(/&amp;/g, '&')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>');
  }
  text = redactSecrets(
    text
      .replace(/\p{Cc}+/gu, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
  );
  text = maskMalformedSecrets(text);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const SECRET_MEMBER_NAME =
  '"(?:session[_-]?token|access[_-]?token|iam[_-]?token|token|secret|password|jwt|private[_-]?key)"';
/** `"sessionToken":"abc` : the string never closes (the body was cut off). */
const UNTERMINATED_SECRET = new RegExp(
  `(${SECRET_MEMBER_NAME}\\s*:\\s*")(?:[^"\\\\]|\\\\[\\s\\S])*\\\\?$`,
  'i',
);
/** `"sessionToken": abc` : the value is not a string at all. */
const UNQUOTED_SECRET = new RegExp(`(${SECRET_MEMBER_NAME}\\s*:\\s*)(?![\\s"])[^\\s,}\\]]+`, 'gi');

/**
 * Secret-named JSON members that redactSecrets leaves alone because they are not well-formed strings:
 * bodies that are not JSON are exactly where they turn up (a proxy cut the answer off inside the value,
 * or a broken encoder left the quotes out).
 */
function maskMalformedSecrets(text: string): string {
  return text
    .replace(UNQUOTED_SECRET, (_match, prefix: string) => `${prefix}[REDACTED]`)
    .replace(UNTERMINATED_SECRET, (_match, prefix: string) => `${prefix}[REDACTED]`);
}
