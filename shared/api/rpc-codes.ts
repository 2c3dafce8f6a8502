/**
 * google.rpc.Code: number → name, the HTTP status the REST gateway maps it to, and whether a call that
 * failed with it may be retried with backoff (api.md §5). Yandex's own table spells 12 as
 * "NOT_IMPLEMENTED"; the proto (and we) say UNIMPLEMENTED, and `rpcCodeOf` accepts both.
 */
export interface RpcCodeInfo {
  readonly code: number;
  readonly name: string;
  readonly httpStatus: number;
  /**
   * Safe to retry with backoff. DEADLINE_EXCEEDED is marked retryable because every start we send
   * carries an Idempotency-Key, which is what api.md requires for retrying starts.
   */
  readonly retryable: boolean;
}

export const RPC_CODES: readonly RpcCodeInfo[] = [
  { code: 0, name: 'OK', httpStatus: 200, retryable: false },
  { code: 1, name: 'CANCELLED', httpStatus: 499, retryable: false },
  { code: 2, name: 'UNKNOWN', httpStatus: 500, retryable: true },
  { code: 3, name: 'INVALID_ARGUMENT', httpStatus: 400, retryable: false },
  { code: 4, name: 'DEADLINE_EXCEEDED', httpStatus: 504, retryable: true },
  { code: 5, name: 'NOT_FOUND', httpStatus: 404, retryable: false },
  { code: 6, name: 'ALREADY_EXISTS', httpStatus: 409, retryable: false },
  { code: 7, name: 'PERMISSION_DENIED', httpStatus: 403, retryable: false },
  { code: 8, name: 'RESOURCE_EXHAUSTED', httpStatus: 429, retryable: true },
  { code: 9, name: 'FAILED_PRECONDITION', httpStatus: 400, retryable: false },
  { code: 10, name: 'ABORTED', httpStatus: 409, retryable: false },
  { code: 11, name: 'OUT_OF_RANGE', httpStatus: 400, retryable: false },
  { code: 12, name: 'UNIMPLEMENTED', httpStatus: 501, retryable: false },
  { code: 13, name: 'INTERNAL', httpStatus: 500, retryable: true },
  { code: 14, name: 'UNAVAILABLE', httpStatus: 503, retryable: true },
  { code: 15, name: 'DATA_LOSS', httpStatus: 500, retryable: false },
  { code: 16, name: 'UNAUTHENTICATED', httpStatus: 401, retryable: false },
];

/** The stable names, for code that branches on them (`RPC.FAILED_PRECONDITION === 9`). */
export const RPC = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** The table row for a numeric code, or undefined for a code outside 0..16. */
export function rpcCodeInfo(code: number): RpcCodeInfo | undefined {
  return Number.isInteger(code) ? RPC_CODES[code] : undefined;
}

/** The name of a numeric code (`7` → `PERMISSION_DENIED`); unknown codes become `CODE_<n>`. */
export function rpcCodeName(code: number): string {
  return rpcCodeInfo(code)?.name ?? `CODE_${code}`;
}

/** The number of a code name, accepting Yandex's `NOT_IMPLEMENTED` spelling of 12. */
export function rpcCodeOf(name: string): number | undefined {
  const upper = name.trim().toUpperCase();
  if (upper === 'NOT_IMPLEMENTED') return RPC.UNIMPLEMENTED;
  return RPC_CODES.find((row) => row.name === upper)?.code;
}

/** HTTP statuses the transport retries with backoff (api.md §7): 429 and the transient 5xx. */
export const RETRYABLE_HTTP_STATUSES: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);

/** A reason phrase for an HTTP status, for messages when the body carries no rpc code. */
export function httpStatusText(status: number): string {
  return HTTP_TEXT[status] ?? '';
}

const HTTP_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  499: 'Client Closed Request',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
