import { InvalidRequestError } from '../errors.ts';
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
import { RouteChoice } from './route-fallback.ts';

export const DEFAULT_DATASPHERE_ENDPOINT = 'https://datasphere.api.cloud.yandex.net';

/** `:open` (REST docs, cloudapi until 2024) or `/open` (cloudapi since 2026-04); see api.md §2.2. */
export type OpenPathStyle = 'colon' | 'slash';

/**
 * `/open` first: the gateway's REST routes are generated from the protos' http rules, and cloudapi has
 * said `/open` since 2026-04-13 (still at head 2026-11-28); the REST reference and seed still show
 * `:open`, which is the fallback (docs/api.md, "Project.Open: which path").
 */
export const DEFAULT_OPEN_PATH_STYLE: OpenPathStyle = 'slash';

export interface DataSphereClientOptions {
  readonly transport: HttpTransport;
  /** @default https://datasphere.api.cloud.yandex.net */
  readonly endpoint?: string;
  /** The Open path to try first; the other is tried only when this route is missing. @default 'slash' */
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
  readonly #openRoute: RouteChoice<OpenPathStyle>;

  constructor(options: DataSphereClientOptions) {
    this.#transport = options.transport;
    this.#endpoint = options.endpoint ?? DEFAULT_DATASPHERE_ENDPOINT;
    const first = options.openPathStyle ?? DEFAULT_OPEN_PATH_STYLE;
    this.#openRoute = new RouteChoice<OpenPathStyle>(first, first === 'colon' ? 'slash' : 'colon');
  }

  /** The Open path style this client tries first now (the configured one, or the one a fallback proved). */
  get openPathStyle(): OpenPathStyle {
    return this.#openRoute.current;
  }

  /** Whether `openPathStyle` has answered 2xx on this instance. */
  get openPathConfirmed(): boolean {
    return this.#openRoute.confirmed;
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
   * Opens the project (starts its IDE VM): `POST …/{projectId}/open`, or `…:open` (api.md §2.2). The
   * other path is tried once, with the same key, only when the first route is missing (RouteChoice);
   * a path is remembered by this instance only after it answered 2xx. The finished operation's
   * `response` holds `projectUrl` (openResultOf); the session token is dropped while decoding.
   */
  async openProject(
    projectId: string,
    options: StartOptions,
  ): Promise<Operation<OpenProjectMetadata, OpenProjectResponse>> {
    requireId('projectId', projectId);
    requireKey(options.idempotencyKey);
    return this.#openRoute.send([projectId], (style) => this.#open(projectId, style, options));
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
