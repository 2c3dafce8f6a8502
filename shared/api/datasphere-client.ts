import { InvalidRequestError } from '../errors.ts';
import { isApiError } from './api-error.ts';
import type { HttpTransport } from './http-transport.ts';
import {
  ANY_PAYLOADS,
  type AnyMessage,
  decodeOperation,
  decodeProject,
  EXECUTE_PAYLOADS,
  OPEN_PAYLOADS,
  type OpenProjectMetadata,
  type OpenProjectResponse,
  type Operation,
  type Project,
  type ProjectExecutionMetadata,
  type ProjectExecutionResponse,
} from './protojson.ts';

export const DEFAULT_DATASPHERE_ENDPOINT = 'https://datasphere.api.cloud.yandex.net';

/** `:open` (REST docs, cloudapi until 2024) or `/open` (cloudapi since 2026-04); see api.md §2.2. */
export type OpenPathStyle = 'colon' | 'slash';

export interface DataSphereClientOptions {
  readonly transport: HttpTransport;
  /** @default https://datasphere.api.cloud.yandex.net */
  readonly endpoint?: string;
  /** The Open path to try first; the other is tried on 404/501. @default 'colon' */
  readonly openPathStyle?: OpenPathStyle;
}

/** The request fields of Project.Execute besides the path-bound project id (api.md §2.1). */
export interface ExecuteRequest {
  readonly notebookId: string;
  readonly inputVariables?: Readonly<Record<string, string | number | boolean>>;
  readonly outputVariableNames?: readonly string[];
  readonly spec?: string;
  readonly sparkConnectorId?: string;
}

/** Options of a call that creates an operation: the key is reused on every retry of the call. */
export interface StartOptions {
  readonly idempotencyKey: string;
  readonly signal?: AbortSignal | undefined;
}

export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
}

/**
 * DataSphere v2 REST client: Project.Execute, Project.Open, Project.Get and DockerImage.Activate.
 * Operation-creating calls require an idempotency key so that a retried start (by the transport, or
 * by the core after a crash) returns the operation already started instead of starting another.
 */
export class DataSphereClient {
  readonly #transport: HttpTransport;
  readonly #endpoint: string;
  #openStyle: OpenPathStyle;

  constructor(options: DataSphereClientOptions) {
    this.#transport = options.transport;
    this.#endpoint = options.endpoint ?? DEFAULT_DATASPHERE_ENDPOINT;
    this.#openStyle = options.openPathStyle ?? 'colon';
  }

  /** The Open path style this client uses now (the one that last worked). */
  get openPathStyle(): OpenPathStyle {
    return this.#openStyle;
  }

  /** Starts a notebook run: `POST /datasphere/v2/projects/{projectId}:execute`. Only set fields are sent. */
  execute(
    projectId: string,
    request: ExecuteRequest,
    options: StartOptions,
  ): Promise<Operation<ProjectExecutionMetadata, ProjectExecutionResponse>> {
    const body: Record<string, unknown> = { notebookId: request.notebookId };
    if (request.inputVariables !== undefined) body.inputVariables = request.inputVariables;
    if (request.outputVariableNames !== undefined) body.outputVariableNames = request.outputVariableNames;
    if (request.spec !== undefined) body.spec = request.spec;
    if (request.sparkConnectorId !== undefined) body.sparkConnectorId = request.sparkConnectorId;
    return this.#transport.request({
      api: 'DataSphere',
      rpc: 'Project.Execute',
      method: 'POST',
      baseUrl: this.#endpoint,
      path: `${projectPath(projectId)}:execute`,
      body,
      idempotencyKey: requireKey(options.idempotencyKey),
      signal: options.signal,
      decode: (json) => decodeOperation(json, EXECUTE_PAYLOADS),
    });
  }

  /**
   * Opens the project (starts its IDE VM): `POST …/{projectId}:open`, or `/open`. On 404 or 501 the
   * other path is tried once with the same key; the one that answers is remembered by this instance.
   * The response's `sessionToken` is a credential: never log it.
   */
  async openProject(
    projectId: string,
    options: StartOptions,
  ): Promise<Operation<OpenProjectMetadata, OpenProjectResponse>> {
    const first = this.#openStyle;
    try {
      return await this.#open(projectId, first, options);
    } catch (error) {
      if (!isRouteMissing(error)) throw error;
      const second: OpenPathStyle = first === 'colon' ? 'slash' : 'colon';
      try {
        const op = await this.#open(projectId, second, options);
        this.#openStyle = second;
        return op;
      } catch (fallbackError) {
        // Both missing: report the preferred path's answer, it is the documented one.
        throw isRouteMissing(fallbackError) ? error : fallbackError;
      }
    }
  }

  #open(projectId: string, style: OpenPathStyle, options: StartOptions) {
    return this.#transport.request({
      api: 'DataSphere',
      rpc: 'Project.Open',
      method: 'POST',
      baseUrl: this.#endpoint,
      path: `${projectPath(projectId)}${style === 'colon' ? ':open' : '/open'}`,
      body: {},
      idempotencyKey: requireKey(options.idempotencyKey),
      signal: options.signal,
      decode: (json) => decodeOperation(json, OPEN_PAYLOADS),
    });
  }

  /** Reads a project: `GET /datasphere/v2/projects/{projectId}`. */
  getProject(projectId: string, options: CallOptions = {}): Promise<Project> {
    return this.#transport.request({
      api: 'DataSphere',
      rpc: 'Project.Get',
      method: 'GET',
      baseUrl: this.#endpoint,
      path: projectPath(projectId),
      signal: options.signal,
      decode: decodeProject,
    });
  }

  /** Activates a Docker image in a project: `POST /datasphere/v2/docker/activate`. Response: Empty. */
  activateDockerImage(
    target: { readonly projectId: string; readonly dockerId: string },
    options: StartOptions,
  ): Promise<Operation<AnyMessage, AnyMessage>> {
    return this.#transport.request({
      api: 'DataSphere',
      rpc: 'DockerImage.Activate',
      method: 'POST',
      baseUrl: this.#endpoint,
      path: '/datasphere/v2/docker/activate',
      body: {
        projectId: requireId('projectId', target.projectId),
        dockerId: requireId('dockerId', target.dockerId),
      },
      idempotencyKey: requireKey(options.idempotencyKey),
      signal: options.signal,
      decode: (json) => decodeOperation(json, ANY_PAYLOADS),
    });
  }
}

function projectPath(projectId: string): string {
  return `/datasphere/v2/projects/${encodeURIComponent(requireId('projectId', projectId))}`;
}

function requireId(field: string, value: string): string {
  if (typeof value !== 'string' || value === '')
    throw new InvalidRequestError(field, 'must be a non-empty string');
  return value;
}

function requireKey(key: string): string {
  if (typeof key !== 'string' || key.trim() === '') {
    throw new InvalidRequestError('idempotencyKey', 'an operation-creating call needs an idempotency key');
  }
  return key;
}

/** 404 or 501 from the gateway: the route (or the method on it) may simply not exist. */
export function isRouteMissing(error: unknown): boolean {
  return (
    isApiError(error) && error.code === 'API_ERROR' && (error.httpStatus === 404 || error.httpStatus === 501)
  );
}
