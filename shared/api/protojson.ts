import * as v from 'valibot';
import { RunnerError } from '../errors.ts';
import { isProtoTimestamp } from './proto-timestamp.ts';

/**
 * ProtoJSON shapes of the DataSphere v2 and Operation APIs (api.md §2, §3, §6), and decoders that check
 * an answer before the rest of the product trusts it. Decoders are lenient where ProtoJSON is (absent
 * fields take their defaults, `null` counts as absent, unknown fields and unknown `@type`s are
 * tolerated, enum ints and int64 strings or numbers are accepted) and strict where a wrong value would
 * mislead the core (a non-boolean `done`, a garbage timestamp, both `response` and `error`).
 */

/** A `google.protobuf.Any`: the message's fields plus its type URL. */
export interface AnyMessage {
  '@type': string;
  [field: string]: unknown;
}

/** `google.rpc.Status`, the `error` of an Operation. */
export interface RpcStatus {
  code: number;
  message: string;
  details?: AnyMessage[];
}

/**
 * `yandex.cloud.operation.Operation`. `done` is always present after decoding (absent on the wire =
 * false). `error` may be set while `done` is false: the service found a failure and is rolling back,
 * which is not final. `done` with neither `response` nor `error` means finished, result unknown.
 */
export interface Operation<M = AnyMessage, R = AnyMessage> {
  id: string;
  description?: string;
  createdAt?: string;
  createdBy?: string;
  modifiedAt?: string;
  done: boolean;
  metadata?: M;
  response?: R;
  error?: RpcStatus;
}

export const EXECUTION_STATUSES = ['EXECUTION_STATUS_UNSPECIFIED', 'OK', 'ERROR', 'ABORTED'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

/** Metadata of a `Project.Execute` operation. */
export interface ProjectExecutionMetadata extends AnyMessage {
  projectId?: string;
  notebookId?: string;
  cellId?: string;
}

/**
 * Response of a finished `Project.Execute` operation. An absent status (ProtoJSON default) or an enum
 * value this code does not know yet decodes as `EXECUTION_STATUS_UNSPECIFIED`; an unknown value is kept
 * in `executionStatusRaw` for the log.
 */
export interface ProjectExecutionResponse extends AnyMessage {
  executionStatus: ExecutionStatus;
  executionStatusRaw?: string | number;
}

export const OPEN_PROJECT_STATUSES = [
  'OPEN_PROJECT_STATUS_UNSPECIFIED',
  'OPEN_PROJECT_STATUS_CLOSING_IDE',
  'OPEN_PROJECT_STATUS_UNZIPPING_PROJECT',
  'OPEN_PROJECT_STATUS_ALLOCATING_VM',
  'OPEN_PROJECT_STATUS_ALLOCATING_RESOURCES',
  'OPEN_PROJECT_STATUS_STARTING_IDE',
  // 6 is reserved in the proto.
  '',
  'OPEN_PROJECT_STATUS_UNKNOWN',
] as const;
export type OpenProjectStatus = Exclude<(typeof OPEN_PROJECT_STATUSES)[number], ''>;

/** Metadata of a `Project.Open` operation. */
export interface OpenProjectMetadata extends AnyMessage {
  projectId?: string;
  status: OpenProjectStatus;
}

/**
 * Response of a finished `Project.Open`: where the IDE is. The wire message also carries
 * `sessionToken`, a credential for that URL; it is dropped while decoding (see SESSION_TOKEN_FIELDS), so
 * no caller can store, log or report it.
 */
export interface OpenProjectResponse extends AnyMessage {
  projectUrl: string;
}

/** What a finished Open returned that is safe to keep and show. */
export interface OpenResult {
  readonly projectUrl: string;
}

/** `Project.Settings` (api.md §2.3). Enums are names; removed fields are typed `unknown`. */
export interface ProjectSettings {
  serviceAccountId?: string;
  subnetId?: string;
  dataProcClusterId?: string;
  securityGroupIds?: string[];
  earlyAccess?: boolean;
  ide?: string;
  defaultFolderId?: string;
  staleExecTimeoutMode?: string;
  /** A ProtoJSON Duration such as `"3600s"`. */
  vmInactivityTimeout?: string;
  defaultDedicatedSpec?: string;
  /** Removed from the proto in 2024 (reserved 4); never branch on it. */
  commitMode?: unknown;
  /** Removed from the proto in 2024 (reserved 10); never branch on it. */
  ideExecutionMode?: unknown;
  [field: string]: unknown;
}

/** `Project.Limits`; Int64Value fields normalised to decimal strings (they may arrive as numbers). */
export interface ProjectLimits {
  maxUnitsPerHour?: string;
  maxUnitsPerExecution?: string;
  [field: string]: unknown;
}

/** `yandex.cloud.datasphere.v2.Project`, as returned by `Project.Get`. */
export interface Project {
  id: string;
  name?: string;
  description?: string;
  createdAt?: string;
  createdById?: string;
  communityId?: string;
  labels?: Record<string, string>;
  settings?: ProjectSettings;
  limits?: ProjectLimits;
  [field: string]: unknown;
}

/**
 * A 2xx answer whose body is not what the API promises. `field` is the JSON path of the offending
 * value (`response.executionStatus`, `(body)` for the whole body). The transport turns it into an
 * `ApiError` with code API_BAD_RESPONSE that also names the call.
 */
export class ResponseShapeError extends RunnerError {
  readonly field: string;
  readonly problem: string;
  constructor(field: string, problem: string) {
    super('API_BAD_RESPONSE', `${field}: ${problem}`, { details: { field } });
    this.name = 'ResponseShapeError';
    this.field = field;
    this.problem = problem;
  }
}

/** Decodes one `Any` payload of an operation; `field` is its JSON path, for error messages. */
export type PayloadDecoder<T> = (message: AnyMessage, field: string) => T;

/** How to decode an operation's `metadata` and `response`. */
export interface OperationPayloads<M, R> {
  readonly metadata: PayloadDecoder<M>;
  readonly response: PayloadDecoder<R>;
}

/** The message name of an Any (`…/yandex.cloud.datasphere.v2.ProjectExecutionResponse` → `ProjectExecutionResponse`). */
export function messageName(message: { '@type'?: unknown }): string {
  const type = typeof message['@type'] === 'string' ? message['@type'] : '';
  return (
    type
      .slice(type.lastIndexOf('/') + 1)
      .split('.')
      .pop() ?? ''
  );
}

// ---- schemas ------------------------------------------------------------------------------------

const text = v.nullish(v.string());
const timestamp = v.nullish(
  v.pipe(v.string(), v.check(isProtoTimestamp, 'expected an RFC 3339 timestamp with 0-9 fractional digits')),
);
const anyMessage = v.looseObject({ '@type': v.nullish(v.string()) });
const enumValue = v.nullish(
  v.union([v.string(), v.pipe(v.number(), v.integer())], 'expected an enum name or number'),
);
const int64 = v.nullish(
  v.union(
    [v.pipe(v.string(), v.regex(/^-?\d+$/)), v.pipe(v.number(), v.safeInteger())],
    'expected an int64 as a decimal string or an integer',
  ),
);

const rpcStatusSchema = v.looseObject({
  code: v.nullish(v.pipe(v.number(), v.integer())),
  message: text,
  details: v.nullish(v.array(anyMessage)),
});

const operationSchema = v.looseObject({
  id: v.pipe(v.string(), v.minLength(1, 'expected a non-empty operation id')),
  description: text,
  createdAt: timestamp,
  createdBy: text,
  modifiedAt: timestamp,
  done: v.nullish(v.boolean()),
  metadata: v.nullish(anyMessage),
  response: v.nullish(anyMessage),
  error: v.nullish(rpcStatusSchema),
});

const executionMetadataSchema = v.looseObject({ projectId: text, notebookId: text, cellId: text });
const executionResponseSchema = v.looseObject({ executionStatus: enumValue });
const openMetadataSchema = v.looseObject({ projectId: text, status: enumValue });
const openResponseSchema = v.looseObject({ projectUrl: text });

const projectSchema = v.looseObject({
  id: v.pipe(v.string(), v.minLength(1, 'expected a non-empty project id')),
  name: text,
  description: text,
  createdAt: timestamp,
  createdById: text,
  communityId: text,
  labels: v.nullish(v.record(v.string(), v.string())),
  settings: v.nullish(
    v.looseObject({
      serviceAccountId: text,
      subnetId: text,
      dataProcClusterId: text,
      securityGroupIds: v.nullish(v.array(v.string())),
      earlyAccess: v.nullish(v.boolean()),
      ide: enumValue,
      defaultFolderId: text,
      staleExecTimeoutMode: enumValue,
      vmInactivityTimeout: v.nullish(
        v.pipe(v.string(), v.regex(/^-?\d+(\.\d{1,9})?s$/, 'expected a Duration')),
      ),
      defaultDedicatedSpec: text,
    }),
  ),
  limits: v.nullish(v.looseObject({ maxUnitsPerHour: int64, maxUnitsPerExecution: int64 })),
});

// ---- decoders -----------------------------------------------------------------------------------

/** Checks `value` against `schema`, or throws a ResponseShapeError naming the first bad field. */
function check<S extends v.GenericSchema>(schema: S, value: unknown, field: string): v.InferOutput<S> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw new ResponseShapeError(field || '(body)', `expected a JSON object, received ${kind}`);
  }
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = v.getDotPath(issue);
  const at = path ? (field ? `${field}.${path}` : path) : field || '(body)';
  const problem = issue.message.startsWith('Invalid key')
    ? 'is missing'
    : `${issue.message}${describeReceived(issue)}`;
  throw new ResponseShapeError(at, problem);
}

function describeReceived(issue: v.BaseIssue<unknown>): string {
  // valibot's default messages already say what was received; custom ones do not.
  if (issue.message.includes('received')) return '';
  const received = issue.received.length > 80 ? `${issue.received.slice(0, 79)}…` : issue.received;
  return ` (received ${received})`;
}

/** A copy of `record` without the keys whose value is null or undefined (ProtoJSON: absent). */
function present<T extends Record<string, unknown>>(record: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record))
    if (value !== null && value !== undefined) out[key] = value;
  return out as T;
}

function toAny(message: Record<string, unknown>): AnyMessage {
  return { ...present(message), '@type': typeof message['@type'] === 'string' ? message['@type'] : '' };
}

function enumName(value: string | number | null | undefined, names: readonly string[]): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') return names[value] || undefined;
  return value;
}

/** Passes any payload through as an `AnyMessage` (`@type` defaults to `''`). */
export const decodeAnyMessage: PayloadDecoder<AnyMessage> = (message) => toAny(message);

/** `ProjectExecutionMetadata`; fields are checked only when `@type` names that message. */
export const decodeExecutionMetadata: PayloadDecoder<ProjectExecutionMetadata> = (message, field) => {
  if (messageName(message) === 'ProjectExecutionMetadata') check(executionMetadataSchema, message, field);
  const out = toAny(message) as ProjectExecutionMetadata;
  for (const key of ['projectId', 'notebookId', 'cellId'] as const) {
    if (typeof out[key] !== 'string') delete out[key];
  }
  return out;
};

/** `ProjectExecutionResponse`, `executionStatus` normalised to a name (ints 0-3 accepted). */
export const decodeExecutionResponse: PayloadDecoder<ProjectExecutionResponse> = (message, field) => {
  const typed = messageName(message) === 'ProjectExecutionResponse';
  if (typed) check(executionResponseSchema, message, field);
  const raw = message.executionStatus;
  const out = toAny(message) as ProjectExecutionResponse;
  const name =
    typeof raw === 'string' || typeof raw === 'number' ? enumName(raw, EXECUTION_STATUSES) : undefined;
  if (name !== undefined && (EXECUTION_STATUSES as readonly string[]).includes(name)) {
    out.executionStatus = name as ExecutionStatus;
  } else {
    out.executionStatus = 'EXECUTION_STATUS_UNSPECIFIED';
    if (typed && (typeof raw === 'string' || typeof raw === 'number')) out.executionStatusRaw = raw;
  }
  return out;
};

/** `OpenProjectMetadata`, `status` normalised to a name (ints accepted; unknown → `…_UNKNOWN`). */
export const decodeOpenMetadata: PayloadDecoder<OpenProjectMetadata> = (message, field) => {
  if (messageName(message) === 'OpenProjectMetadata') check(openMetadataSchema, message, field);
  const raw = message.status;
  const out = toAny(message) as OpenProjectMetadata;
  if (typeof out.projectId !== 'string') delete out.projectId;
  const name =
    typeof raw === 'string' || typeof raw === 'number' ? enumName(raw, OPEN_PROJECT_STATUSES) : undefined;
  if (raw === null || raw === undefined) out.status = 'OPEN_PROJECT_STATUS_UNSPECIFIED';
  else if (name && (OPEN_PROJECT_STATUSES as readonly string[]).includes(name))
    out.status = name as OpenProjectStatus;
  else out.status = 'OPEN_PROJECT_STATUS_UNKNOWN';
  return out;
};

/** `OpenProjectResponse`: `projectUrl` (absent = `''`); the session token is not kept. */
export const decodeOpenResponse: PayloadDecoder<OpenProjectResponse> = (message, field) => {
  if (messageName(message) === 'OpenProjectResponse') check(openResponseSchema, message, field);
  const out = withoutSessionToken(toAny(message)) as OpenProjectResponse;
  out.projectUrl = typeof message.projectUrl === 'string' ? message.projectUrl : '';
  return out;
};

/**
 * The names a session token may arrive under (ProtoJSON's lowerCamelCase, and the proto name that
 * parsers also accept). Every decoded operation payload loses them, whatever decoder read it: an
 * Open operation read by Operation.Get or Cancel with ANY_PAYLOADS included.
 */
export const SESSION_TOKEN_FIELDS: readonly string[] = ['sessionToken', 'session_token'];

function withoutSessionToken<T extends AnyMessage>(message: T): T {
  for (const name of SESSION_TOKEN_FIELDS) delete message[name];
  return message;
}

/**
 * The result of a finished `Project.Open` operation (done, no error, a response with a `projectUrl`),
 * read from an operation decoded with any payload decoders; undefined for anything else.
 */
export function openResultOf(operation: Operation<unknown, unknown>): OpenResult | undefined {
  if (!operation.done || operation.error !== undefined) return undefined;
  const response = operation.response;
  if (typeof response !== 'object' || response === null) return undefined;
  const { projectUrl } = response as { projectUrl?: unknown };
  if (typeof projectUrl !== 'string' || projectUrl === '') return undefined;
  const name = messageName(response as { '@type'?: unknown });
  if (name !== '' && name !== 'OpenProjectResponse') return undefined;
  return { projectUrl };
}

/** Payloads of an operation whose kind is not known (Operation.Get of any operation). */
export const ANY_PAYLOADS: OperationPayloads<AnyMessage, AnyMessage> = {
  metadata: decodeAnyMessage,
  response: decodeAnyMessage,
};
/** Payloads of a `Project.Execute` operation. */
export const EXECUTE_PAYLOADS: OperationPayloads<ProjectExecutionMetadata, ProjectExecutionResponse> = {
  metadata: decodeExecutionMetadata,
  response: decodeExecutionResponse,
};
/** Payloads of a `Project.Open` operation. */
export const OPEN_PAYLOADS: OperationPayloads<OpenProjectMetadata, OpenProjectResponse> = {
  metadata: decodeOpenMetadata,
  response: decodeOpenResponse,
};

/** Decodes a `google.rpc.Status` (absent code = 0, absent message = `''`). */
export function decodeRpcStatus(json: unknown, field = ''): RpcStatus {
  const status = check(rpcStatusSchema, json, field);
  const out: RpcStatus = { code: status.code ?? 0, message: status.message ?? '' };
  if (status.details) out.details = status.details.map(toAny);
  return out;
}

/**
 * Decodes an Operation. Throws a ResponseShapeError when the body is not an Operation: no id, a field
 * of the wrong type, an invalid timestamp, or both `response` and `error` (a proto `oneof`).
 */
export function decodeOperation<M = AnyMessage, R = AnyMessage>(
  json: unknown,
  payloads?: OperationPayloads<M, R>,
): Operation<M, R> {
  const decoders = (payloads ?? ANY_PAYLOADS) as OperationPayloads<M, R>;
  const op = check(operationSchema, json, '');
  if (op.response != null && op.error != null) {
    throw new ResponseShapeError('response', 'an operation carries both `response` and `error` (a oneof)');
  }
  const out: Operation<M, R> = { id: op.id, done: op.done ?? false };
  if (op.description != null) out.description = op.description;
  if (op.createdAt != null) out.createdAt = op.createdAt;
  if (op.createdBy != null) out.createdBy = op.createdBy;
  if (op.modifiedAt != null) out.modifiedAt = op.modifiedAt;
  // The session token is dropped before any decoder sees the payload, so no decoder can keep it.
  if (op.metadata != null)
    out.metadata = decoders.metadata(withoutSessionToken(toAny(op.metadata)), 'metadata');
  if (op.response != null)
    out.response = decoders.response(withoutSessionToken(toAny(op.response)), 'response');
  if (op.error != null) out.error = decodeRpcStatus(op.error, 'error');
  return out;
}

const IDE_NAMES = ['IDE_UNSPECIFIED', 'JUPYTER_LAB'];
const STALE_MODE_NAMES = [
  'STALE_EXECUTION_TIMEOUT_MODE_UNSPECIFIED',
  'ONE_HOUR',
  'THREE_HOURS',
  'NO_TIMEOUT',
];

/** Decodes a `Project` (Project.Get). Unknown fields are kept; enums become names, int64s strings. */
export function decodeProject(json: unknown): Project {
  const project = check(projectSchema, json, '');
  const out = present({ ...project }) as Project;
  if (project.settings != null) {
    const settings = present({ ...project.settings }) as ProjectSettings;
    const ide = enumName(project.settings.ide, IDE_NAMES) ?? numberText(project.settings.ide);
    if (ide !== undefined) settings.ide = ide;
    const stale =
      enumName(project.settings.staleExecTimeoutMode, STALE_MODE_NAMES) ??
      numberText(project.settings.staleExecTimeoutMode);
    if (stale !== undefined) settings.staleExecTimeoutMode = stale;
    out.settings = settings;
  }
  if (project.limits != null) {
    const limits = present({ ...project.limits }) as ProjectLimits;
    for (const key of ['maxUnitsPerHour', 'maxUnitsPerExecution'] as const) {
      const value = project.limits[key];
      if (value != null) limits[key] = String(value);
    }
    out.limits = limits;
  }
  return out;
}

function numberText(value: string | number | null | undefined): string | undefined {
  return typeof value === 'number' ? String(value) : undefined;
}
