import { InvalidRequestError } from '../errors.ts';
import { isApiError } from './api-error.ts';
import type { HttpTransport } from './http-transport.ts';
import {
  ANY_PAYLOADS,
  type AnyMessage,
  decodeOperation,
  type Operation,
  type OperationPayloads,
} from './protojson.ts';

export const DEFAULT_OPERATION_ENDPOINT = 'https://operation.api.cloud.yandex.net';

/** How Cancel is sent: the proto's `GET …:cancel`, or the design guide's POST (api.md §4). */
export type CancelMethod = 'GET' | 'POST';

export interface OperationClientOptions {
  readonly transport: HttpTransport;
  /** @default https://operation.api.cloud.yandex.net */
  readonly endpoint?: string;
  /** The Cancel method to try first; the other is tried on 404/405/501. @default 'GET' */
  readonly cancelMethod?: CancelMethod;
}

export interface OperationCallOptions<M, R> {
  readonly signal?: AbortSignal | undefined;
  /** How to decode `metadata`/`response` (e.g. EXECUTE_PAYLOADS); default: kept as AnyMessage. */
  readonly payloads?: OperationPayloads<M, R>;
}

/**
 * Operation API client: Get and Cancel of any operation (DataSphere operations are polled on the
 * shared Operation host). A 404 on Get right after a start can mean "not visible yet" (api.md §7): it
 * surfaces as an ApiError with httpStatus 404 and the core decides.
 */
export class OperationClient {
  readonly #transport: HttpTransport;
  readonly #endpoint: string;
  #cancelMethod: CancelMethod;

  constructor(options: OperationClientOptions) {
    this.#transport = options.transport;
    this.#endpoint = options.endpoint ?? DEFAULT_OPERATION_ENDPOINT;
    this.#cancelMethod = options.cancelMethod ?? 'GET';
  }

  /** The Cancel method this client uses now (the one that last worked). */
  get cancelMethod(): CancelMethod {
    return this.#cancelMethod;
  }

  /** `GET /operations/{operationId}`. */
  get<M = AnyMessage, R = AnyMessage>(
    operationId: string,
    options: OperationCallOptions<M, R> = {},
  ): Promise<Operation<M, R>> {
    const payloads = (options.payloads ?? ANY_PAYLOADS) as OperationPayloads<M, R>;
    return this.#transport.request({
      api: 'Operation',
      rpc: 'Operation.Get',
      method: 'GET',
      baseUrl: this.#endpoint,
      path: operationPath(operationId),
      signal: options.signal,
      decode: (json) => decodeOperation(json, payloads),
    });
  }

  /**
   * Best-effort cancel: `GET /operations/{operationId}:cancel`, falling back to POST on 404, 405 or
   * 501 and remembering which worked. Returns the Operation; keep polling until it is done.
   */
  async cancel<M = AnyMessage, R = AnyMessage>(
    operationId: string,
    options: OperationCallOptions<M, R> = {},
  ): Promise<Operation<M, R>> {
    const first = this.#cancelMethod;
    try {
      return await this.#cancel(operationId, first, options);
    } catch (error) {
      if (!isMethodMissing(error)) throw error;
      const second: CancelMethod = first === 'GET' ? 'POST' : 'GET';
      try {
        const op = await this.#cancel(operationId, second, options);
        this.#cancelMethod = second;
        return op;
      } catch (fallbackError) {
        throw isMethodMissing(fallbackError) ? error : fallbackError;
      }
    }
  }

  #cancel<M, R>(operationId: string, method: CancelMethod, options: OperationCallOptions<M, R>) {
    const payloads = (options.payloads ?? ANY_PAYLOADS) as OperationPayloads<M, R>;
    return this.#transport.request({
      api: 'Operation',
      rpc: 'Operation.Cancel',
      method,
      baseUrl: this.#endpoint,
      path: `${operationPath(operationId)}:cancel`,
      ...(method === 'POST' ? { body: {} } : {}),
      // Cancelling twice is harmless, so even the key-less POST may be retried.
      idempotent: true,
      signal: options.signal,
      decode: (json) => decodeOperation(json, payloads),
    });
  }
}

function operationPath(operationId: string): string {
  if (typeof operationId !== 'string' || operationId === '') {
    throw new InvalidRequestError('operationId', 'must be a non-empty string');
  }
  return `/operations/${encodeURIComponent(operationId)}`;
}

function isMethodMissing(error: unknown): boolean {
  return (
    isApiError(error) &&
    error.code === 'API_ERROR' &&
    (error.httpStatus === 404 || error.httpStatus === 405 || error.httpStatus === 501)
  );
}
