/**
 * JSON over HTTPS to the Yandex Cloud REST APIs with the deployer's IAM token, and the wait for the
 * long-running operations most mutating calls answer with. Errors name the call and carry the API's
 * own message and google.rpc code, never the token.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { type Dispatcher, request } from 'undici';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface CloudHttp {
  /** Sends one request and returns the parsed JSON answer (`{}` for an empty body). */
  call(method: HttpMethod, url: string, body?: unknown): Promise<Record<string, unknown>>;
}

/** A REST call the API answered with an error status. */
export class CloudApiError extends Error {
  readonly method: HttpMethod;
  readonly url: string;
  readonly status: number;
  /** google.rpc code from the error body, when there is one. */
  readonly rpcCode: number | undefined;
  constructor(method: HttpMethod, url: string, status: number, rpcCode: number | undefined, message: string) {
    const path = url.replace(/\?.*$/, '');
    super(`${method} ${path}: HTTP ${status}${message === '' ? '' : `: ${message}`}`);
    this.name = 'CloudApiError';
    this.method = method;
    this.url = url;
    this.status = status;
    this.rpcCode = rpcCode;
  }
}

export const isPermissionDenied = (error: unknown): boolean =>
  error instanceof CloudApiError && (error.status === 403 || error.rpcCode === 7);
export const isUnauthenticated = (error: unknown): boolean =>
  error instanceof CloudApiError && (error.status === 401 || error.rpcCode === 16);
export const isNotFound = (error: unknown): boolean =>
  error instanceof CloudApiError && (error.status === 404 || error.rpcCode === 5);

export interface CloudHttpOptions {
  readonly token: string;
  readonly dispatcher?: Dispatcher | undefined;
  /** @default 60000 */
  readonly timeoutMs?: number;
}

export function createCloudHttp(options: CloudHttpOptions): CloudHttp {
  return {
    async call(method, url, body) {
      const response = await request(url, {
        method,
        headers: {
          authorization: `Bearer ${options.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
        headersTimeout: options.timeoutMs ?? 60_000,
        bodyTimeout: options.timeoutMs ?? 60_000,
      });
      const text = await response.body.text();
      let parsed: unknown = {};
      if (text.trim() !== '') {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
      }
      const record = isRecord(parsed) ? parsed : undefined;
      if (response.statusCode < 200 || response.statusCode >= 300) {
        const code = typeof record?.code === 'number' ? record.code : undefined;
        const message = typeof record?.message === 'string' ? record.message : '';
        throw new CloudApiError(method, url, response.statusCode, code, message);
      }
      if (record === undefined) {
        throw new CloudApiError(
          method,
          url,
          response.statusCode,
          undefined,
          'the answer is not a JSON object',
        );
      }
      return record;
    },
  };
}

export interface Operation {
  readonly id: string;
  readonly done?: boolean;
  readonly description?: string;
  readonly metadata?: Record<string, unknown>;
  readonly response?: Record<string, unknown>;
  readonly error?: { readonly code?: number; readonly message?: string };
}

/** An operation that ended with an error. */
export class OperationError extends Error {
  readonly operationId: string;
  readonly rpcCode: number | undefined;
  constructor(what: string, operation: Operation) {
    super(`${what}: operation ${operation.id} failed: ${operation.error?.message ?? 'no message'}`);
    this.name = 'OperationError';
    this.operationId = operation.id;
    this.rpcCode = operation.error?.code;
  }
}

export interface WaitOptions {
  readonly operationEndpoint: string;
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default 600000 (a new serverless database can take minutes) */
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

/**
 * Waits until `operation` is done (polling `GET /operations/{id}`) and returns its `response`.
 * @throws OperationError when it ended with an error, Error when it did not end in time.
 */
export async function waitForOperation(
  http: CloudHttp,
  answer: Record<string, unknown>,
  what: string,
  options: WaitOptions,
): Promise<Record<string, unknown>> {
  let operation = answer as unknown as Operation;
  if (typeof operation.id !== 'string') throw new Error(`${what}: the answer is not an operation`);
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const now = options.now ?? Date.now;
  const started = now();
  let wait = 250;
  while (operation.done !== true) {
    if (operation.error !== undefined) break;
    if (now() - started > (options.timeoutMs ?? 600_000)) {
      throw new Error(`${what}: operation ${operation.id} did not finish in time`);
    }
    await sleep(wait);
    wait = Math.min(wait * 2, 5_000);
    operation = (await http.call(
      'GET',
      `${options.operationEndpoint}/operations/${encodeURIComponent(operation.id)}`,
    )) as unknown as Operation;
  }
  if (operation.error !== undefined) throw new OperationError(what, operation);
  return operation.response ?? {};
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
