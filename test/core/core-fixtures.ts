// Test doubles for the core: a fake DataSphere + Operation API with real idempotency-key semantics,
// a clock the test moves, and a logger that keeps its lines.
import type { AnyMessage, Operation } from '../../shared/api/protojson.ts';
import {
  type CoreDeps,
  type CoreSettings,
  DEFAULT_SETTINGS,
  type NotifierPort,
} from '../../shared/core/ports.ts';
import type { RunRecord } from '../../shared/core/run-record.ts';
import { RunnerError } from '../../shared/errors.ts';
import { createInMemoryLedger } from '../../shared/ledger/in-memory-ledger.ts';
import type { RunLedger } from '../../shared/ledger/run-ledger.ts';
import { createLogger } from '../../shared/log.ts';

export class ApiFailure extends RunnerError {
  readonly rpcCode: number;
  readonly httpStatus: number;
  readonly retryable: boolean;
  readonly apiMessage: string;
  constructor(
    httpStatus: number,
    rpcCode: number,
    message: string,
    retryable = httpStatus === 429 || httpStatus >= 500,
  ) {
    super('API_ERROR', `fake API failed: ${httpStatus} (code ${rpcCode}): ${message}`);
    this.rpcCode = rpcCode;
    this.httpStatus = httpStatus;
    this.retryable = retryable;
    this.apiMessage = message;
  }
}

interface FakeOperation {
  id: string;
  done: boolean;
  response?: AnyMessage;
  error?: { code: number; message: string };
  idempotencyKey: string;
  kind: 'execute' | 'activate' | 'open';
}

export type Failure = () => Error;

/** What a finished DockerImage.Activate answers (api.md §2.4). */
const EMPTY_RESPONSE: AnyMessage = { '@type': 'type.googleapis.com/google.protobuf.Empty' };

/** A fake of the two APIs. Operations change only when the test says so. */
export class FakeApi {
  readonly operations = new Map<string, FakeOperation>();
  readonly calls: { rpc: string; id?: string; idempotencyKey?: string; body?: unknown }[] = [];
  /** Failures to throw, per rpc, consumed in order. */
  readonly failures: Record<string, Failure[]> = {};
  /** Operation.Get answers 404 for these ids. */
  readonly hidden = new Set<string>();
  activateDoneAfterGets = 0;
  private counter = 0;

  private fail(rpc: string): void {
    const next = this.failures[rpc]?.shift();
    if (next !== undefined) throw next();
  }

  private toOperation(op: FakeOperation): Operation<AnyMessage, AnyMessage> {
    return {
      id: op.id,
      done: op.done,
      ...(op.response === undefined ? {} : { response: op.response }),
      ...(op.error === undefined ? {} : { error: op.error }),
    };
  }

  readonly datasphere = {
    execute: async (projectId: string, body: unknown, opts: { idempotencyKey: string }) => {
      this.calls.push({
        rpc: 'execute',
        idempotencyKey: opts.idempotencyKey,
        body: { projectId, ...(body as object) },
      });
      this.fail('execute');
      for (const op of this.operations.values()) {
        if (op.kind === 'execute' && op.idempotencyKey === opts.idempotencyKey) return this.toOperation(op);
      }
      const op: FakeOperation = {
        id: `op${++this.counter}`,
        done: false,
        idempotencyKey: opts.idempotencyKey,
        kind: 'execute',
      };
      this.operations.set(op.id, op);
      return this.toOperation(op);
    },
    activateDockerImage: async (
      input: { projectId: string; dockerId: string },
      opts: { idempotencyKey: string },
    ) => {
      this.calls.push({ rpc: 'activate', idempotencyKey: opts.idempotencyKey, body: input });
      this.fail('activate');
      const seen = this.byKey('activate', opts.idempotencyKey);
      if (seen !== undefined) return seen;
      const op: FakeOperation = {
        id: `act${++this.counter}`,
        done: this.activateDoneAfterGets === 0,
        idempotencyKey: opts.idempotencyKey,
        kind: 'activate',
      };
      if (op.done) op.response = EMPTY_RESPONSE;
      this.operations.set(op.id, op);
      return this.toOperation(op);
    },
    openProject: async (projectId: string, opts: { idempotencyKey: string }) => {
      this.calls.push({ rpc: 'open', idempotencyKey: opts.idempotencyKey, body: { projectId } });
      this.fail('open');
      const seen = this.byKey('open', opts.idempotencyKey);
      if (seen !== undefined) return seen;
      const op: FakeOperation = {
        id: `open${++this.counter}`,
        done: false,
        idempotencyKey: opts.idempotencyKey,
        kind: 'open',
      };
      this.operations.set(op.id, op);
      return this.toOperation(op);
    },
  };

  /** The operation a key already created (real Idempotency-Key semantics: the same one comes back). */
  private byKey(kind: FakeOperation['kind'], key: string): Operation<AnyMessage, AnyMessage> | undefined {
    for (const op of this.operations.values()) {
      if (op.kind === kind && op.idempotencyKey === key) return this.toOperation(op);
    }
    return undefined;
  }

  /** Ends an operation with this response (an Open's `{projectUrl, …}`, an Activate's Empty). */
  respond(id: string, response: AnyMessage): void {
    const op = this.operations.get(id);
    if (op === undefined) throw new Error(`no operation ${id}`);
    op.done = true;
    op.response = response;
  }

  readonly operationsApi = {
    get: async (id: string) => {
      this.calls.push({ rpc: 'get', id });
      this.fail('get');
      const op = this.operations.get(id);
      if (op === undefined || this.hidden.has(id)) throw new ApiFailure(404, 5, `operation ${id} not found`);
      if (op.kind === 'activate' && !op.done && --this.activateDoneAfterGets <= 0) {
        op.done = true;
        op.response = EMPTY_RESPONSE;
      }
      return this.toOperation(op);
    },
    cancel: async (id: string) => {
      this.calls.push({ rpc: 'cancel', id });
      this.fail('cancel');
      const op = this.operations.get(id);
      if (op === undefined) throw new ApiFailure(404, 5, `operation ${id} not found`);
      return this.toOperation(op);
    },
  };

  /** Ends an operation: `OK`/`ERROR`/`ABORTED` as executionStatus, or an operation error code. */
  finish(
    id: string,
    outcome: 'OK' | 'ERROR' | 'ABORTED' | { code: number; message: string },
    done = true,
  ): void {
    const op = this.operations.get(id);
    if (op === undefined) throw new Error(`no operation ${id}`);
    op.done = done;
    if (typeof outcome === 'string') {
      op.response = {
        '@type': 'type.googleapis.com/yandex.cloud.datasphere.v2.ProjectExecutionResponse',
        executionStatus: outcome,
      };
    } else {
      op.error = outcome;
    }
  }

  count(rpc: string): number {
    return this.calls.filter((call) => call.rpc === rpc).length;
  }
}

export class TestClock {
  constructor(public ms = Date.parse('2026-06-01T10:00:00.000Z')) {}
  now = (): Date => new Date(this.ms);
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export class RecordingNotifier implements NotifierPort {
  readonly delivered: { destination: string; runId: string; status: string }[] = [];
  readonly failing = new Set<string>();
  constructor(readonly destinations: readonly string[] = ['webhook', 'queue']) {}
  async deliver(destination: string, record: RunRecord): Promise<void> {
    if (this.failing.has(destination)) throw new RunnerError('NOTIFY_ERROR', `${destination} is down`);
    this.delivered.push({ destination, runId: record.runId, status: record.status });
  }
}

export interface Harness {
  readonly api: FakeApi;
  readonly clock: TestClock;
  readonly ledger: RunLedger;
  readonly lines: Record<string, unknown>[];
  readonly deps: CoreDeps;
  /** Log lines with this msg. */
  logged(msg: string): Record<string, unknown>[];
}

export function harness(
  options: { settings?: Partial<CoreSettings>; notifier?: NotifierPort; ledger?: RunLedger } = {},
): Harness {
  const api = new FakeApi();
  const clock = new TestClock();
  const ledger = options.ledger ?? createInMemoryLedger();
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'debug', now: clock.now, write: (line) => lines.push(JSON.parse(line)) });
  const deps: CoreDeps = {
    ledger,
    datasphere: api.datasphere,
    operations: api.operationsApi,
    // Core tests sweep right after a start; the default first-check delay has its own test.
    settings: { ...DEFAULT_SETTINGS, checkFirstDelaySeconds: 0, ...options.settings },
    log,
    now: clock.now,
    sleep: async (ms) => clock.advance(ms / 1000),
    ...(options.notifier === undefined ? {} : { notifier: options.notifier }),
  };
  return { api, clock, ledger, lines, deps, logged: (msg) => lines.filter((line) => line.msg === msg) };
}

export const REQUEST = {
  projectId: 'p1',
  notebookId: '/home/jupyter/datasphere/project/daily.ipynb',
} as const;
