/**
 * The emulator's operations. Nothing runs in the background: an operation's state is computed from
 * `now()` against its `finishesAt` every time it is read, so tests can drive time with a fake clock.
 */
import { randomInt } from 'node:crypto';
import type { EmulatedOperation, Outcome } from './types.ts';
import { CODE, protoTimestamp, randomSubMillisecond, rpcErrorBody, TYPE, yandexId } from './wire-format.ts';

type Kind = EmulatedOperation['kind'];

/** `running`: not done; `failing`: `done:false` with `error` (rolling back); `done`. */
export type Phase = 'running' | 'failing' | 'done';

export interface NewOperation {
  kind: Kind;
  projectId: string;
  notebookId?: string;
  cellId?: string;
  dockerId?: string;
  /** For Execute: the input variables it was sent (kept for tests to read back). */
  inputVariables?: Record<string, unknown>;
  outcome: Outcome;
  durationMs: number;
  idempotencyKey?: string;
  /** The request id of the creating call, quoted in an operation error's details. */
  requestId: string;
  /** For Open: where the IDE is. */
  projectUrl?: string;
  /** For Open: the project's IDE was opened before, so it is closed first. */
  reopen?: boolean;
}

/** The metadata statuses an Open moves through (OpenProjectMetadata.OpenProjectStatus), in equal parts. */
const OPEN_STEPS = [
  'OPEN_PROJECT_STATUS_UNZIPPING_PROJECT',
  'OPEN_PROJECT_STATUS_ALLOCATING_VM',
  'OPEN_PROJECT_STATUS_STARTING_IDE',
] as const;
const REOPEN_STEPS = ['OPEN_PROJECT_STATUS_CLOSING_IDE', ...OPEN_STEPS] as const;

interface StoredOperation {
  readonly id: string;
  readonly kind: Kind;
  readonly projectId: string;
  readonly notebookId: string | undefined;
  readonly cellId: string | undefined;
  readonly inputVariables: Record<string, unknown> | undefined;
  readonly idempotencyKey: string | undefined;
  readonly requestId: string;
  readonly projectUrl: string | undefined;
  readonly sessionToken: string | undefined;
  readonly createdAtMs: number;
  readonly createdSubMs: number;
  readonly finishedSubMs: number;
  /** How long it was planned to run (a cancel moves finishesAt, not this). */
  readonly plannedMs: number;
  readonly steps: readonly string[];
  outcome: Outcome;
  finishesAt: number;
  rollbackMs: number;
  modifiedAtMs: number;
  cancelled: boolean;
  gets: number;
}

export interface StoreSettings {
  now: () => number;
  errorRollbackMs: number;
  omitDoneFalse: boolean;
  /** Operations' `createdBy`: the subject that called. */
  createdBy: string;
}

const DESCRIPTIONS: Readonly<Record<Kind, string>> = {
  execute: 'Execute project',
  open: 'Open project',
  activate: 'Activate docker image',
};

export class OperationStore {
  readonly #settings: StoreSettings;
  readonly #operations = new Map<string, StoredOperation>();
  /** Idempotency scope (`kind projectId key`) → operation id. */
  readonly #byKey = new Map<string, string>();

  constructor(settings: StoreSettings) {
    this.#settings = settings;
  }

  /** The scope an Idempotency-Key is remembered in: one per method and project. */
  static scope(kind: Kind, projectId: string, key: string): string {
    return `${kind}\u0000${projectId}\u0000${key}`;
  }

  create(spec: NewOperation): string {
    const now = this.#settings.now();
    const createdSubMs = randomSubMillisecond();
    const op: StoredOperation = {
      id: yandexId('bt1'),
      kind: spec.kind,
      projectId: spec.projectId,
      notebookId: spec.notebookId,
      cellId: spec.cellId,
      inputVariables: spec.inputVariables === undefined ? undefined : { ...spec.inputVariables },
      idempotencyKey: spec.idempotencyKey,
      requestId: spec.requestId,
      projectUrl: spec.projectUrl,
      sessionToken: spec.kind === 'open' ? `emulator-session.${yandexId('')}` : undefined,
      createdAtMs: now,
      createdSubMs,
      // not before createdAt when both fall in the same millisecond
      finishedSubMs: createdSubMs + randomInt(1_000_000 - createdSubMs),
      plannedMs: spec.durationMs,
      steps: spec.kind !== 'open' ? [] : spec.reopen === true ? REOPEN_STEPS : OPEN_STEPS,
      outcome: spec.outcome,
      finishesAt: now + spec.durationMs,
      rollbackMs: this.#settings.errorRollbackMs,
      modifiedAtMs: now,
      cancelled: false,
      gets: 0,
    };
    this.#operations.set(op.id, op);
    if (spec.idempotencyKey !== undefined) {
      this.#byKey.set(OperationStore.scope(spec.kind, spec.projectId, spec.idempotencyKey), op.id);
    }
    return op.id;
  }

  has(id: string): boolean {
    return this.#operations.has(id);
  }

  /** The operation an Idempotency-Key already created in this scope, if any. */
  byKey(scope: string): string | undefined {
    return this.#byKey.get(scope);
  }

  /** Counts an Operation.Get and returns how many there were, this one included. */
  countGet(id: string): number {
    const op = this.#get(id);
    op.gets += 1;
    return op.gets;
  }

  /** Whether an Open of the project has finished well (its IDE is open). */
  hasOpened(projectId: string): boolean {
    for (const op of this.#operations.values()) {
      if (
        op.kind === 'open' &&
        op.projectId === projectId &&
        this.#phase(op) === 'done' &&
        op.outcome === 'OK'
      )
        return true;
    }
    return false;
  }

  /** The id of an Execute in the project that is not done, if any. */
  runningExecute(projectId: string): string | undefined {
    for (const op of this.#operations.values()) {
      if (op.kind === 'execute' && op.projectId === projectId && this.#phase(op) !== 'done') return op.id;
    }
    return undefined;
  }

  phase(id: string): Phase {
    return this.#phase(this.#get(id));
  }

  /**
   * Operation.Cancel: an operation still running ends `cancelDelayMs` later as ABORTED (Execute) or with
   * error code 1 (the others), unless it would have finished before that; anything else is unchanged.
   */
  cancel(id: string, cancelDelayMs: number): void {
    const op = this.#get(id);
    if (this.#phase(op) !== 'running') return;
    const now = this.#settings.now();
    const endsAt = now + cancelDelayMs;
    if (endsAt < op.finishesAt) {
      op.finishesAt = endsAt;
      op.outcome = 'ABORTED';
      op.rollbackMs = 0;
      op.cancelled = true;
      op.modifiedAtMs = now;
    }
  }

  /** Makes an operation that is not done finish now (skipping any rollback), optionally with another outcome. */
  finish(id: string, outcome: Outcome | undefined): void {
    const op = this.#get(id);
    if (this.#phase(op) === 'done') return;
    op.finishesAt = this.#settings.now();
    op.rollbackMs = 0;
    if (outcome !== undefined) op.outcome = outcome;
  }

  /** The Operation as Operation.Get answers it (api.md §3). */
  render(id: string): Record<string, unknown> {
    const op = this.#get(id);
    const phase = this.#phase(op);
    const modifiedAt =
      phase === 'running'
        ? protoTimestamp(op.modifiedAtMs, op.createdSubMs)
        : protoTimestamp(op.finishesAt + (phase === 'done' ? op.rollbackMs : 0), op.finishedSubMs);
    const json: Record<string, unknown> = {
      id: op.id,
      description: DESCRIPTIONS[op.kind],
      createdAt: protoTimestamp(op.createdAtMs, op.createdSubMs),
      createdBy: this.#settings.createdBy,
      modifiedAt,
    };
    if (phase === 'done' || !this.#settings.omitDoneFalse) json.done = phase === 'done';
    const metadata = this.#metadata(op);
    if (metadata !== undefined) json.metadata = metadata;
    if (phase === 'running') return json;
    const error = this.#error(op);
    if (error !== undefined) json.error = error;
    else if (phase === 'done') json.response = this.#response(op);
    return json;
  }

  snapshot(id: string): EmulatedOperation {
    const op = this.#get(id);
    const snapshot: EmulatedOperation = {
      id: op.id,
      kind: op.kind,
      projectId: op.projectId,
      done: this.#phase(op) === 'done',
      outcome: op.outcome,
      createdAt: protoTimestamp(op.createdAtMs, op.createdSubMs),
      finishesAt: op.finishesAt,
      cancelled: op.cancelled,
      gets: op.gets,
    };
    const notebookId = op.notebookId ?? op.cellId;
    if (notebookId !== undefined) snapshot.notebookId = notebookId;
    if (op.idempotencyKey !== undefined) snapshot.idempotencyKey = op.idempotencyKey;
    if (op.inputVariables !== undefined) snapshot.inputVariables = { ...op.inputVariables };
    return snapshot;
  }

  ids(): string[] {
    return [...this.#operations.keys()];
  }

  clear(): void {
    this.#operations.clear();
    this.#byKey.clear();
  }

  #get(id: string): StoredOperation {
    const op = this.#operations.get(id);
    if (op === undefined) throw new RangeError(`no emulated operation ${id}`);
    return op;
  }

  #phase(op: StoredOperation): Phase {
    const now = this.#settings.now();
    if (now < op.finishesAt) return 'running';
    if (op.outcome === 'OPERATION_ERROR' && now < op.finishesAt + op.rollbackMs) return 'failing';
    return 'done';
  }

  #metadata(op: StoredOperation): Record<string, unknown> | undefined {
    switch (op.kind) {
      case 'execute': {
        const metadata: Record<string, unknown> = {
          '@type': TYPE.executionMetadata,
          projectId: op.projectId,
        };
        if (op.notebookId !== undefined) metadata.notebookId = op.notebookId;
        if (op.cellId !== undefined) metadata.cellId = op.cellId;
        return metadata;
      }
      case 'open':
        return { '@type': TYPE.openMetadata, projectId: op.projectId, status: this.#openStatus(op) };
      case 'activate':
        // DockerImage.Activate declares no metadata type (api.md §2.4)
        return undefined;
    }
  }

  /** Where an Open is: the step its share of the planned time has reached (the last one once done). */
  #openStatus(op: StoredOperation): string {
    const elapsed = Math.min(this.#settings.now(), op.finishesAt) - op.createdAtMs;
    const share = op.plannedMs <= 0 ? 1 : elapsed / op.plannedMs;
    const index = Math.min(op.steps.length - 1, Math.max(0, Math.floor(share * op.steps.length)));
    return op.steps[index] ?? 'OPEN_PROJECT_STATUS_UNKNOWN';
  }

  /** `operation.error` when the outcome is one; undefined when the operation has a response. */
  #error(op: StoredOperation): Record<string, unknown> | undefined {
    if (op.outcome === 'OPERATION_ERROR') {
      return rpcErrorBody(
        CODE.INTERNAL,
        `${DESCRIPTIONS[op.kind]} failed: internal error (emulated)`,
        op.requestId,
      );
    }
    if (op.kind === 'execute' || op.outcome === 'OK') return undefined;
    if (op.outcome === 'ABORTED') {
      return rpcErrorBody(CODE.CANCELLED, 'Operation cancelled', op.requestId);
    }
    return rpcErrorBody(CODE.INTERNAL, `${DESCRIPTIONS[op.kind]} failed (emulated)`, op.requestId);
  }

  #response(op: StoredOperation): Record<string, unknown> {
    switch (op.kind) {
      case 'execute':
        return { '@type': TYPE.executionResponse, executionStatus: op.outcome };
      case 'open':
        return { '@type': TYPE.openResponse, projectUrl: op.projectUrl, sessionToken: op.sessionToken };
      case 'activate':
        return { '@type': TYPE.empty };
    }
  }
}
