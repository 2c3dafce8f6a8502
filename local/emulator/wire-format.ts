/**
 * What the emulator's answers look like on the wire (api.md §3, §5, §6): Yandex-style ids, ProtoJSON
 * timestamps with 9 fractional digits, `@type` URLs, google.rpc error bodies and the code ↔ HTTP table.
 * Deliberately independent of `shared/api/`: the emulator must not inherit the client's mistakes.
 */
import { randomBytes, randomInt } from 'node:crypto';

export const TYPE = {
  executionMetadata: 'type.googleapis.com/yandex.cloud.datasphere.v2.ProjectExecutionMetadata',
  executionResponse: 'type.googleapis.com/yandex.cloud.datasphere.v2.ProjectExecutionResponse',
  openMetadata: 'type.googleapis.com/yandex.cloud.datasphere.v2.OpenProjectMetadata',
  openResponse: 'type.googleapis.com/yandex.cloud.datasphere.v2.OpenProjectResponse',
  empty: 'type.googleapis.com/google.protobuf.Empty',
  requestInfo: 'type.googleapis.com/google.rpc.RequestInfo',
  retryInfo: 'type.googleapis.com/google.rpc.RetryInfo',
  badRequest: 'type.googleapis.com/google.rpc.BadRequest',
} as const;

export const CODE = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  FAILED_PRECONDITION: 9,
  INTERNAL: 13,
  UNAUTHENTICATED: 16,
} as const;

/** google.rpc.Code → HTTP status (api.md §5). */
const HTTP_OF_CODE: readonly number[] = [
  200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401,
];

/** The HTTP status a google.rpc code is answered with; unknown codes → 500. */
export function httpStatusOf(code: number): number {
  return HTTP_OF_CODE[code] ?? 500;
}

/** The google.rpc code that best explains an HTTP status (for injected `status` faults). */
export function rpcCodeOfStatus(status: number): number {
  const table: Readonly<Record<number, number>> = {
    400: 3,
    401: 16,
    403: 7,
    404: 5,
    409: 10,
    429: 8,
    499: 1,
    500: 13,
    501: 12,
    502: 14,
    503: 14,
    504: 4,
  };
  return table[status] ?? 2;
}

/** Yandex ids are 20 characters of lowercase base32 (`[a-v0-9]`), starting with a service prefix. */
const ID_ALPHABET = 'abcdefghijklmnopqrstuv0123456789';

/** A fresh id such as `bt1ok3m9c5v2r7h0d4e6`. */
export function yandexId(prefix: string): string {
  let id = prefix;
  for (const byte of randomBytes(20 - prefix.length)) id += ID_ALPHABET.charAt(byte % 32);
  return id;
}

/** Sub-millisecond digits for a timestamp (the clock only gives milliseconds; Yandex sends nanoseconds). */
export function randomSubMillisecond(): number {
  return randomInt(1_000_000);
}

/** RFC 3339 with `Z` and 9 fractional digits: `2025-06-02T06:00:03.481290117Z`. */
export function protoTimestamp(ms: number, subMillisecond: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}${String(subMillisecond).padStart(6, '0')}Z`;
}

/** A 32-hex-digit trace id for `x-server-trace-id`. */
export function traceId(): string {
  return randomBytes(16).toString('hex');
}

export interface FieldViolation {
  field: string;
  description: string;
}

/** `{code, message, details:[RequestInfo, …]}` as the API gateway sends it. */
export function rpcErrorBody(
  code: number,
  message: string,
  requestId: string,
  extra: readonly Record<string, unknown>[] = [],
): Record<string, unknown> {
  return { code, message, details: [{ '@type': TYPE.requestInfo, requestId }, ...extra] };
}

/** A BadRequest detail naming the field (google/rpc/error_details.proto). */
export function badRequestDetail(violation: FieldViolation): Record<string, unknown> {
  return { '@type': TYPE.badRequest, fieldViolations: [violation] };
}

/** A RetryInfo detail, `retryDelay` as a ProtoJSON Duration. */
export function retryInfoDetail(seconds: number): Record<string, unknown> {
  return { '@type': TYPE.retryInfo, retryDelay: `${seconds}s` };
}

/** One HTTP answer: a JSON value, or a raw body for malformed answers. */
export interface Answer {
  status: number;
  json?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

/** An rpc error answer with the HTTP status that belongs to its code. */
export function rpcErrorAnswer(
  code: number,
  message: string,
  requestId: string,
  extra: readonly Record<string, unknown>[] = [],
): Answer {
  return { status: httpStatusOf(code), json: rpcErrorBody(code, message, requestId, extra) };
}
