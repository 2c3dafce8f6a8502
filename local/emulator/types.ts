/**
 * The public types of the local DataSphere emulator. `emulator.ts` re-exports all of them; other code
 * imports from there.
 */

/** How an emulated operation ends: the three `executionStatus` values, or `operation.error` (code 13). */
export type Outcome = 'OK' | 'ERROR' | 'ABORTED' | 'OPERATION_ERROR';

export const OUTCOMES: readonly Outcome[] = ['OK', 'ERROR', 'ABORTED', 'OPERATION_ERROR'];

/** Which Project.Open path the emulator serves (api.md §2.2: the real one is unconfirmed). */
export type OpenPath = 'colon' | 'slash' | 'both';

/** Which methods Operation.Cancel accepts (api.md §4: GET is documented, POST is unconfirmed). */
export type CancelMethods = 'get' | 'post' | 'both';

export interface EmulatorOptions {
  /** @default 0 (any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** How long an Execute runs unless a plan or its input variables say otherwise. @default 3000 */
  durationMs?: number;
  /** How an Execute ends unless a plan or its input variables say otherwise. @default 'OK' */
  outcome?: Outcome;
  /** How long DockerImage.Activate runs. @default 0 */
  activateDurationMs?: number;
  /**
   * How long Project.Open runs; its metadata status moves through OPEN_PROJECT_STATUS_UNZIPPING_PROJECT,
   * ALLOCATING_VM and STARTING_IDE (after CLOSING_IDE when the project was opened before) in equal
   * parts of it. @default 3000
   */
  openDurationMs?: number;
  /** When set only `Bearer <token>` is accepted, otherwise any non-empty bearer token. */
  token?: string;
  /**
   * Callers' tokens, each with the projects it may read: such a token is accepted too (even when `token`
   * is set), and Project.Get with it answers 403 PERMISSION_DENIED (code 7) for a project not listed.
   * `token` (or any token when it is unset) reads every project. @default {}
   */
  tokenProjects?: Readonly<Record<string, readonly string[]>>;
  /** The first N Operation.Get of each new operation answer 404 (replica lag, api.md §7). @default 0 */
  notFoundGetsPerOperation?: number;
  /** An Execute into a project with an unfinished Execute answers 400 FAILED_PRECONDITION. @default false */
  oneRunPerProject?: boolean;
  /**
   * The path Project.Open answers on; the other one answers 404 like any unknown route, so a test
   * catches a client that calls the wrong one. `both` only on request. @default 'slash' (`/open`)
   */
  openPath?: OpenPath;
  /**
   * The method Operation.Cancel answers to; the other one answers 404 like any unknown route. `both`
   * only on request. @default 'get'
   */
  cancelMethods?: CancelMethods;
  /** How long after a Cancel the operation becomes done (0 = at once). @default 200 */
  cancelDelayMs?: number;
  /** Project ids that do not exist (404 NOT_FOUND); every other id of 1..50 chars exists. @default [] */
  missingProjects?: string[];
  /**
   * For OPERATION_ERROR: how long the operation shows `done:false` with `error` set (the service
   * rolling back, api.md §3) before it becomes `done:true`. @default 0
   */
  errorRollbackMs?: number;
  /** Omit `done` while it is false, as ProtoJSON allows (api.md §3). @default false (send `done:false`) */
  omitDoneFalse?: boolean;
  /** When set, Operation.Get answers carry `x-operation-poll-interval: <n>` (seconds). */
  pollIntervalSeconds?: number;
  /** The clock (epoch milliseconds); operations finish lazily against it. @default Date.now */
  now?: () => number;
  /** One short line per request (method, path, status), never a token. */
  log?: (line: string) => void;
}

/**
 * A rule for the operations it matches (all given fields must match); the last matching rule wins.
 * `kind` says which method it applies to (default `execute`); an `open` or `activate` rule matches on
 * `projectId` only, and its `ERROR` outcome, like `OPERATION_ERROR`, ends the operation with an error.
 */
export interface Plan {
  kind?: EmulatedOperation['kind'];
  notebookId?: string;
  projectId?: string;
  outcome?: Outcome;
  durationMs?: number;
}

/** A failure to inject: it hits the next `times` requests matching `method` and `path`. */
export interface Fault {
  kind: 'latency' | 'status' | 'drop' | 'malformed';
  /** HTTP method, any case; absent = any. */
  method?: string;
  /** A substring of the request path; absent = any (control routes `/_emulator/…` are never faulted). */
  path?: string;
  /** For `status`. @default 503 */
  status?: number;
  /** For `status`: the body's google.rpc code. @default derived from `status` (429→8, 503→14, …) */
  rpcCode?: number;
  /** For `status`: the body's message; `{token}` in it is replaced by the bearer token the request carried. */
  message?: string;
  /** For `status`: sends `Retry-After` (and a RetryInfo detail). */
  retryAfterSeconds?: number;
  /** For `latency`: how long the answer is held back. @default 1000 */
  latencyMs?: number;
  /** For `malformed`: the raw 200 body. @default a truncated Operation (not valid JSON) */
  body?: string;
  /** @default 1; Infinity = until cleared */
  times?: number;
}

export interface RecordedRequest {
  method: string;
  /** The decoded path, without the query string. */
  path: string;
  idempotencyKey?: string;
  /** Whether the Authorization header would have been accepted. */
  authorized: boolean;
  /** The HTTP status answered; 0 when the connection was dropped. */
  status: number;
  /** `now()` when the request was handled. */
  at: number;
}

export interface EmulatedOperation {
  id: string;
  kind: 'execute' | 'open' | 'activate';
  projectId: string;
  notebookId?: string;
  done: boolean;
  outcome: Outcome;
  idempotencyKey?: string;
  /** For Execute: the input variables it was sent. */
  inputVariables?: Record<string, unknown>;
  createdAt: string;
  finishesAt: number;
  cancelled: boolean;
  gets: number;
}

export interface Emulator {
  /** `http://host:port`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  /** Adds a rule deciding how matching Executes end. */
  plan(p: Plan): void;
  /** Adds a fault; faults are consumed first-come. */
  inject(f: Fault): void;
  clearFaults(): void;
  /** A copy of the requests seen so far (control routes excluded). */
  readonly requests: readonly RecordedRequest[];
  /** Snapshots of every operation, state evaluated at `now()`. */
  operations(): EmulatedOperation[];
  /** Makes an unfinished operation done now, optionally with another outcome; a done one is left alone. */
  finish(operationId: string, outcome?: Outcome): void;
  /** Forgets operations, requests, plans, faults and idempotency keys; keeps the options. */
  reset(): void;
  close(): Promise<void>;
}
