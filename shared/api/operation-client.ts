import { InvalidRequestError } from '../errors.ts';
import type { HttpTransport } from './http-transport.ts';
import {
  ANY_PAYLOADS,
  type AnyMessage,
  decodeOperation,
  type Operation,
  type OperationPayloads,
} from './protojson.ts';
import { RouteChoice } from './route-fallback.ts';

export const DEFAULT_OPERATION_ENDPOINT = 'https://operation.api.cloud.yandex.net';

/** How Cancel is sent: the proto's `GET …:cancel`, or the design guide's POST (api.md §4). */
export type CancelMethod = 'GET' | 'POST';

export interface OperationClientOptions {
  readonly transport: HttpTransport;
  /** @default https://operation.api.cloud.yandex.net */
  readonly endpoint?: string;
  /** The Cancel method to try first; the other is tried only when this route is missing. @default 'GET' */
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
  readonly #cancelRoute: RouteChoice<CancelMethod>;

  constructor(options: OperationClientOptions) {
    this.#transport = options.transport;
    this.#endpoint = options.endpoint ?? DEFAULT_OPERATION_ENDPOINT;
    const first = options.cancelMethod ?? 'GET';
    this.#cancelRoute = new RouteChoice<CancelMethod>(first, first === 'GET' ? 'POST' : 'GET');
  }

  /** The Cancel method this client tries first now (the configured one, or the one a fallback proved). */
  get cancelMethod(): CancelMethod {
    return this.#cancelRoute.current;
  }

  /** Whether `cancelMethod` has answered 2xx on this instance. */
  get cancelMethodConfirmed(): boolean {
    return this.#cancelRoute.confirmed;
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
   * Best-effort cancel: `GET /operations/{operationId}:cancel` (the proto and the generated reference),
   * or POST (the design guide). The other method is tried only when the first route is missing
   * (RouteChoice: an `Operation … not found` never sends a second call), and remembered only after it
   * answered 2xx. Returns the Operation; keep polling until it is done.
   */
  async cancel<M = AnyMessage, R = AnyMessage>(
    operationId: string,
    options: OperationCallOptions<M, R> = {},
  ): Promise<Operation<M, R>> {
    operationPath(operationId);
    return this.#cancelRoute.send([operationId], (method) => this.#cancel(operationId, method, options));
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
