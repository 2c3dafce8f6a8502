/**
 * A local DataSphere v2 + Operation API: a real HTTP server (node:http only, so it starts fast) with the
 * paths, methods and JSON shapes of api.md, deterministic outcomes, injectable faults and a control API.
 * A development tool for `npm start` and the end-to-end tests; no bundle imports it.
 *
 * Choices where the real API is unknown (api.md §11), all documented in the README of this folder:
 * - Idempotency-Key scope: per operation kind and project (`execute`/`open`/`activate` × projectId).
 *   A key seen before replays that operation in its current state, whatever the body says; validation
 *   runs first, so an invalid request is refused even with a known key.
 * - Unknown routes (including the Open path and the Cancel method not served: by default only `/open`
 *   and GET) answer 404 with code 5 and a message that names the route, not a resource.
 * - Any project id of 1..50 characters exists unless listed in `missingProjects`.
 * - A `latency` fault lets the request take effect at once and holds back only the answer, which is the
 *   case idempotency keys exist for (the client times out, the operation was created anyway).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ControlTarget, controlAnswer } from './control-api.ts';
import { FaultTable } from './fault-table.ts';
import { type NewOperation, OperationStore } from './operation-store.ts';
import {
  checkActivateBody,
  checkExecuteBody,
  checkOpenBody,
  checkProjectId,
  type ExecuteRequest,
} from './request-validation.ts';
import type {
  CancelMethods,
  Emulator,
  EmulatorOptions,
  Fault,
  OpenPath,
  Outcome,
  Plan,
  RecordedRequest,
} from './types.ts';
import { OUTCOMES } from './types.ts';
import {
  type Answer,
  badRequestDetail,
  CODE,
  type FieldViolation,
  protoTimestamp,
  randomSubMillisecond,
  retryInfoDetail,
  rpcCodeOfStatus,
  rpcErrorAnswer,
  rpcErrorBody,
  traceId,
  yandexId,
} from './wire-format.ts';

export type {
  CancelMethods,
  EmulatedOperation,
  Emulator,
  EmulatorOptions,
  Fault,
  OpenPath,
  Outcome,
  Plan,
  RecordedRequest,
} from './types.ts';

interface Settings {
  readonly port: number;
  readonly host: string;
  readonly durationMs: number;
  readonly outcome: Outcome;
  readonly activateDurationMs: number;
  readonly openDurationMs: number;
  readonly token: string | undefined;
  readonly tokenProjects: ReadonlyMap<string, ReadonlySet<string>>;
  readonly notFoundGetsPerOperation: number;
  readonly oneRunPerProject: boolean;
  readonly openPath: OpenPath;
  readonly cancelMethods: CancelMethods;
  readonly cancelDelayMs: number;
  readonly missingProjects: ReadonlySet<string>;
  readonly errorRollbackMs: number;
  readonly omitDoneFalse: boolean;
  readonly pollIntervalSeconds: number | undefined;
  readonly now: () => number;
  readonly log: (line: string) => void;
}

const MAX_BODY_BYTES = 1024 * 1024;
const UNAUTHENTICATED_MESSAGE = 'The token is invalid or has expired.';
/** What a `malformed` fault answers by default: an Operation cut off mid-way (not valid JSON). */
const TRUNCATED_OPERATION = '{"id": "bt1malformed00000000", "done": tru';

function durationOption(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || Number.isNaN(resolved) || resolved < 0) {
    throw new TypeError(`${name} must be a non-negative number of milliseconds`);
  }
  return resolved;
}

function checkOutcome(name: string, value: unknown): Outcome {
  if (!OUTCOMES.includes(value as Outcome))
    throw new TypeError(`${name} must be one of ${OUTCOMES.join(', ')}`);
  return value as Outcome;
}

function resolveOptions(options: EmulatorOptions): Settings {
  const notFoundGets = options.notFoundGetsPerOperation ?? 0;
  if (!Number.isInteger(notFoundGets) || notFoundGets < 0) {
    throw new TypeError('notFoundGetsPerOperation must be a non-negative integer');
  }
  const openPath = options.openPath ?? 'slash';
  if (!['colon', 'slash', 'both'].includes(openPath))
    throw new TypeError('openPath must be colon, slash or both');
  const cancelMethods = options.cancelMethods ?? 'get';
  if (!['get', 'post', 'both'].includes(cancelMethods))
    throw new TypeError('cancelMethods must be get, post or both');
  const poll = options.pollIntervalSeconds;
  if (poll !== undefined && !(Number.isInteger(poll) && poll > 0)) {
    throw new TypeError('pollIntervalSeconds must be a positive integer');
  }
  if (options.token === '')
    throw new TypeError('token must not be empty (leave it unset to accept any token)');
  return {
    port: options.port ?? 0,
    host: options.host ?? '127.0.0.1',
    durationMs: durationOption('durationMs', options.durationMs, 3000),
    outcome: checkOutcome('outcome', options.outcome ?? 'OK'),
    activateDurationMs: durationOption('activateDurationMs', options.activateDurationMs, 0),
    openDurationMs: durationOption('openDurationMs', options.openDurationMs, 3000),
    token: options.token,
    tokenProjects: new Map(
      Object.entries(options.tokenProjects ?? {}).map(([token, projects]) => [token, new Set(projects)]),
    ),
    notFoundGetsPerOperation: notFoundGets,
    oneRunPerProject: options.oneRunPerProject ?? false,
    openPath,
    cancelMethods,
    cancelDelayMs: durationOption('cancelDelayMs', options.cancelDelayMs, 200),
    missingProjects: new Set(options.missingProjects ?? []),
    errorRollbackMs: durationOption('errorRollbackMs', options.errorRollbackMs, 0),
    omitDoneFalse: options.omitDoneFalse ?? false,
    pollIntervalSeconds: poll,
    now: options.now ?? Date.now,
    log: options.log ?? (() => {}),
  };
}

function checkPlan(plan: Plan): Plan {
  const copy: Plan = {};
  for (const field of ['notebookId', 'projectId'] as const) {
    const value = plan[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new TypeError(`plan.${field} must be a string`);
    copy[field] = value;
  }
  if (plan.kind !== undefined) {
    if (!['execute', 'open', 'activate'].includes(plan.kind))
      throw new TypeError('plan.kind must be execute, open or activate');
    if (plan.kind !== 'execute' && plan.notebookId !== undefined)
      throw new TypeError(`plan.notebookId does not apply to kind ${plan.kind}`);
    copy.kind = plan.kind;
  }
  if (plan.outcome !== undefined) copy.outcome = checkOutcome('plan.outcome', plan.outcome);
  if (plan.durationMs !== undefined) copy.durationMs = durationOption('plan.durationMs', plan.durationMs, 0);
  return copy;
}

/** Reads the request body, keeping at most MAX_BODY_BYTES (the rest is drained). */
async function readBody(req: IncomingMessage): Promise<{ text: string; tooLarge: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size <= MAX_BODY_BYTES) chunks.push(buffer);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), tooLarge: size > MAX_BODY_BYTES };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first;
}

/** The client's `x-request-id` when it looks like one (go-sdk sends UUIDs), else a fresh UUID. */
function requestIdFor(req: IncomingMessage): string {
  const sent = headerValue(req.headers['x-request-id']);
  return sent !== undefined && /^[A-Za-z0-9-]{1,64}$/.test(sent) ? sent : randomUUID();
}

function decodedPath(rawUrl: string): string {
  const raw = rawUrl.split('?', 1)[0] ?? '/';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** A project name matching `[a-z]([-a-z0-9]{0,61}[a-z0-9])?`, derived from the id. */
function projectName(projectId: string): string {
  const slug = projectId.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  return `project-${slug}`.slice(0, 63).replace(/-+$/, '');
}

function invalid(violation: FieldViolation, requestId: string): Answer {
  return rpcErrorAnswer(
    CODE.INVALID_ARGUMENT,
    `Request validation error: ${violation.field}: ${violation.description}`,
    requestId,
    [badRequestDetail(violation)],
  );
}

type Parsed = { ok: true; value: Record<string, unknown> } | { ok: false; answer: Answer };

function parseBody(text: string, requestId: string): Parsed {
  if (text.trim() === '') return { ok: true, value: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {
      ok: false,
      answer: rpcErrorAnswer(CODE.INVALID_ARGUMENT, 'Request body is not valid JSON', requestId),
    };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      ok: false,
      answer: rpcErrorAnswer(CODE.INVALID_ARGUMENT, 'Request body must be a JSON object', requestId),
    };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

interface Context {
  readonly requestId: string;
  /** The bearer token the request carried (checked by then). */
  readonly token: string | undefined;
  readonly idempotencyKey: string | undefined;
  readonly body: string;
}

interface Route {
  readonly method: 'GET' | 'POST';
  readonly pattern: RegExp;
  readonly handle: (param: string, ctx: Context) => Answer;
}

interface ProjectFacts {
  readonly createdAtMs: number;
  readonly subMs: number;
  readonly communityId: string;
  readonly serviceAccountId: string;
  readonly folderId: string;
}

/** Starts the emulator; resolves once it is listening. Invalid options throw a TypeError naming them. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const settings = resolveOptions(options);
  const createdBy = yandexId('aje');
  const store = new OperationStore({
    now: settings.now,
    errorRollbackMs: settings.errorRollbackMs,
    omitDoneFalse: settings.omitDoneFalse,
    createdBy,
  });
  const faults = new FaultTable();
  const projects = new Map<string, ProjectFacts>();
  let plans: Plan[] = [];
  let requests: RecordedRequest[] = [];
  /** New Executes seen per outcome sequence (EMULATOR_OUTCOMES): project, notebook and the sequence. */
  const sequenceCounts = new Map<string, number>();
  const waits = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let baseUrl = '';

  function wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          waits.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      waits.add(entry);
    });
  }

  function bearerOf(header: string | undefined): string | undefined {
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match?.[1];
  }

  function isAuthorized(header: string | undefined): boolean {
    const token = bearerOf(header);
    if (token === undefined) return false;
    return settings.token === undefined || token === settings.token || settings.tokenProjects.has(token);
  }

  function projectMissing(projectId: string, requestId: string): Answer | undefined {
    if (!settings.missingProjects.has(projectId)) return undefined;
    return rpcErrorAnswer(CODE.NOT_FOUND, `Project ${projectId} not found`, requestId);
  }

  function operationAnswer(id: string): Answer {
    return { status: 200, json: store.render(id) };
  }

  /**
   * Replays the operation an Idempotency-Key created before, or creates a new one; `finalize` completes
   * the spec of a new one only (a replay takes nothing from an outcome sequence).
   */
  function createOrReplay(
    spec: NewOperation,
    ctx: Context,
    guard?: () => Answer | undefined,
    finalize: (spec: NewOperation) => NewOperation = (s) => s,
  ): Answer {
    if (ctx.idempotencyKey !== undefined) {
      const known = store.byKey(OperationStore.scope(spec.kind, spec.projectId, ctx.idempotencyKey));
      if (known !== undefined) return operationAnswer(known);
    }
    const refused = guard?.();
    if (refused !== undefined) return refused;
    const made = finalize(spec);
    const withKey = ctx.idempotencyKey === undefined ? made : { ...made, idempotencyKey: ctx.idempotencyKey };
    return operationAnswer(store.create(withKey));
  }

  /**
   * Outcome and duration of an Execute: last matching plan, else EMULATOR_* input variables, else
   * defaults. `sequence`: the Execute's outcome comes from EMULATOR_OUTCOMES, taken when (and only
   * when) it creates an operation.
   */
  function runFor(
    projectId: string,
    request: ExecuteRequest,
  ):
    | { ok: true; outcome: Outcome; durationMs: number; sequence?: { key: string; outcomes: Outcome[] } }
    | { ok: false; violation: FieldViolation } {
    const notebook = request.notebookId ?? request.cellId;
    const rule = plans.findLast(
      (p) =>
        (p.kind ?? 'execute') === 'execute' &&
        (p.projectId === undefined || p.projectId === projectId) &&
        (p.notebookId === undefined || p.notebookId === notebook),
    );
    const vars = request.inputVariables ?? {};
    let varOutcome: Outcome | undefined;
    const askedOutcome = vars.EMULATOR_OUTCOME;
    if (askedOutcome !== undefined && askedOutcome !== null) {
      const upper = typeof askedOutcome === 'string' ? askedOutcome.toUpperCase() : '';
      if (!OUTCOMES.includes(upper as Outcome)) {
        return {
          ok: false,
          violation: {
            field: 'inputVariables.EMULATOR_OUTCOME',
            description: `must be one of ${OUTCOMES.join(', ')}`,
          },
        };
      }
      varOutcome = upper as Outcome;
    }
    // `ERROR,OK`: the first Execute of this notebook with this sequence fails, the next ones succeed
    // (the last entry repeats). Retries resend the same input variables, so this is how a test makes
    // only the first attempt fail.
    let sequence: { key: string; outcomes: Outcome[] } | undefined;
    const askedSequence = vars.EMULATOR_OUTCOMES;
    if (askedSequence !== undefined && askedSequence !== null) {
      const entries =
        typeof askedSequence === 'string' ? askedSequence.split(',').map((e) => e.trim().toUpperCase()) : [];
      if (entries.length === 0 || entries.some((entry) => !OUTCOMES.includes(entry as Outcome))) {
        return {
          ok: false,
          violation: {
            field: 'inputVariables.EMULATOR_OUTCOMES',
            description: `must be a comma-separated list of ${OUTCOMES.join(', ')}`,
          },
        };
      }
      sequence = {
        key: JSON.stringify([projectId, notebook, askedSequence]),
        outcomes: entries as Outcome[],
      };
    }
    let varDuration: number | undefined;
    const askedDuration = vars.EMULATOR_DURATION_MS;
    if (askedDuration !== undefined && askedDuration !== null) {
      const number =
        typeof askedDuration === 'string' ? Number(askedDuration.trim() || 'NaN') : askedDuration;
      if (typeof number !== 'number' || Number.isNaN(number) || number < 0) {
        return {
          ok: false,
          violation: {
            field: 'inputVariables.EMULATOR_DURATION_MS',
            description: 'must be a non-negative number',
          },
        };
      }
      varDuration = number;
    }
    return {
      ok: true,
      outcome: rule?.outcome ?? varOutcome ?? settings.outcome,
      durationMs: rule?.durationMs ?? varDuration ?? settings.durationMs,
      ...(rule?.outcome === undefined && sequence !== undefined ? { sequence } : {}),
    };
  }

  /** The next outcome of an EMULATOR_OUTCOMES sequence, for an Execute that creates an operation. */
  function nextOfSequence(sequence: { key: string; outcomes: Outcome[] }): Outcome {
    const seen = sequenceCounts.get(sequence.key) ?? 0;
    sequenceCounts.set(sequence.key, seen + 1);
    return sequence.outcomes[Math.min(seen, sequence.outcomes.length - 1)] as Outcome;
  }

  function execute(projectId: string, ctx: Context): Answer {
    const badId = checkProjectId(projectId);
    if (badId !== undefined) return invalid(badId, ctx.requestId);
    const body = parseBody(ctx.body, ctx.requestId);
    if (!body.ok) return body.answer;
    const checked = checkExecuteBody(body.value);
    if (!checked.ok) return invalid(checked.violation, ctx.requestId);
    const run = runFor(projectId, checked.value);
    if (!run.ok) return invalid(run.violation, ctx.requestId);
    const missing = projectMissing(projectId, ctx.requestId);
    if (missing !== undefined) return missing;
    const spec: NewOperation = {
      kind: 'execute',
      projectId,
      outcome: run.outcome,
      durationMs: run.durationMs,
      requestId: ctx.requestId,
    };
    if (checked.value.notebookId !== undefined) spec.notebookId = checked.value.notebookId;
    if (checked.value.cellId !== undefined) spec.cellId = checked.value.cellId;
    if (checked.value.inputVariables !== undefined) spec.inputVariables = checked.value.inputVariables;
    const sequence = run.sequence;
    return createOrReplay(
      spec,
      ctx,
      () => {
        if (!settings.oneRunPerProject) return undefined;
        const running = store.runningExecute(projectId);
        if (running === undefined) return undefined;
        return rpcErrorAnswer(
          CODE.FAILED_PRECONDITION,
          `Project ${projectId} is busy: execution ${running} is still running`,
          ctx.requestId,
        );
      },
      (made) => (sequence === undefined ? made : { ...made, outcome: nextOfSequence(sequence) }),
    );
  }

  /** The last plan rule for an Open or an Activate of `projectId`. */
  function planFor(kind: 'open' | 'activate', projectId: string): Plan | undefined {
    return plans.findLast((p) => p.kind === kind && (p.projectId === undefined || p.projectId === projectId));
  }

  function open(projectId: string, ctx: Context): Answer {
    const badId = checkProjectId(projectId);
    if (badId !== undefined) return invalid(badId, ctx.requestId);
    const body = parseBody(ctx.body, ctx.requestId);
    if (!body.ok) return body.answer;
    const checked = checkOpenBody(body.value);
    if (!checked.ok) return invalid(checked.violation, ctx.requestId);
    const missing = projectMissing(projectId, ctx.requestId);
    if (missing !== undefined) return missing;
    const rule = planFor('open', projectId);
    return createOrReplay(
      {
        kind: 'open',
        projectId,
        outcome: rule?.outcome ?? 'OK',
        durationMs: rule?.durationMs ?? settings.openDurationMs,
        requestId: ctx.requestId,
        projectUrl: `${baseUrl}/_emulator/ide/${encodeURIComponent(projectId)}`,
        // An IDE opened before is closed first (OPEN_PROJECT_STATUS_CLOSING_IDE).
        reopen: store.hasOpened(projectId),
      },
      ctx,
    );
  }

  function activate(_: string, ctx: Context): Answer {
    const body = parseBody(ctx.body, ctx.requestId);
    if (!body.ok) return body.answer;
    const checked = checkActivateBody(body.value);
    if (!checked.ok) return invalid(checked.violation, ctx.requestId);
    const { projectId, dockerId } = checked.value;
    const missing = projectMissing(projectId, ctx.requestId);
    if (missing !== undefined) return missing;
    const rule = planFor('activate', projectId);
    return createOrReplay(
      {
        kind: 'activate',
        projectId,
        dockerId,
        outcome: rule?.outcome ?? 'OK',
        durationMs: rule?.durationMs ?? settings.activateDurationMs,
        requestId: ctx.requestId,
      },
      ctx,
    );
  }

  function getProject(projectId: string, ctx: Context): Answer {
    const badId = checkProjectId(projectId);
    if (badId !== undefined) return invalid(badId, ctx.requestId);
    const readable = ctx.token === undefined ? undefined : settings.tokenProjects.get(ctx.token);
    if (readable !== undefined && !readable.has(projectId)) {
      return rpcErrorAnswer(
        CODE.PERMISSION_DENIED,
        `Permission denied to project ${projectId}`,
        ctx.requestId,
      );
    }
    const missing = projectMissing(projectId, ctx.requestId);
    if (missing !== undefined) return missing;
    let facts = projects.get(projectId);
    if (facts === undefined) {
      facts = {
        createdAtMs: settings.now(),
        subMs: randomSubMillisecond(),
        communityId: yandexId('bt1'),
        serviceAccountId: yandexId('aje'),
        folderId: yandexId('b1g'),
      };
      projects.set(projectId, facts);
    }
    return {
      status: 200,
      json: {
        id: projectId,
        createdAt: protoTimestamp(facts.createdAtMs, facts.subMs),
        name: projectName(projectId),
        description: 'A project of the local DataSphere emulator',
        labels: { env: 'emulator' },
        createdById: createdBy,
        settings: {
          serviceAccountId: facts.serviceAccountId,
          defaultFolderId: facts.folderId,
          ide: 'JUPYTER_LAB',
          staleExecTimeoutMode: 'ONE_HOUR',
          vmInactivityTimeout: '3600s',
          defaultDedicatedSpec: 'c1.4',
        },
        limits: { maxUnitsPerHour: '1000', maxUnitsPerExecution: '100' },
        communityId: facts.communityId,
      },
    };
  }

  function operationNotFound(id: string, requestId: string): Answer {
    return rpcErrorAnswer(CODE.NOT_FOUND, `Operation ${id} not found`, requestId);
  }

  function getOperation(id: string, ctx: Context): Answer {
    if (!store.has(id)) return operationNotFound(id, ctx.requestId);
    // a fresh operation may not have reached every replica yet (api.md §7)
    if (store.countGet(id) <= settings.notFoundGetsPerOperation) return operationNotFound(id, ctx.requestId);
    const answer = operationAnswer(id);
    if (settings.pollIntervalSeconds !== undefined) {
      answer.headers = { 'x-operation-poll-interval': String(settings.pollIntervalSeconds) };
    }
    return answer;
  }

  function cancel(id: string, ctx: Context): Answer {
    if (!store.has(id)) return operationNotFound(id, ctx.requestId);
    store.cancel(id, settings.cancelDelayMs);
    return operationAnswer(id);
  }

  const PROJECT = '/datasphere/v2/projects/([^/:]*)';
  const OPERATION = '/operations/([^/:]*)';
  const routes: Route[] = [
    { method: 'POST', pattern: new RegExp(`^${PROJECT}:execute$`), handle: execute },
    ...(settings.openPath === 'slash'
      ? []
      : [{ method: 'POST', pattern: new RegExp(`^${PROJECT}:open$`), handle: open } as const]),
    ...(settings.openPath === 'colon'
      ? []
      : [{ method: 'POST', pattern: new RegExp(`^${PROJECT}/open$`), handle: open } as const]),
    { method: 'GET', pattern: new RegExp(`^${PROJECT}$`), handle: getProject },
    { method: 'POST', pattern: /^\/datasphere\/v2\/docker\/activate()$/, handle: activate },
    { method: 'GET', pattern: new RegExp(`^${OPERATION}$`), handle: getOperation },
    ...(settings.cancelMethods === 'post'
      ? []
      : [{ method: 'GET', pattern: new RegExp(`^${OPERATION}:cancel$`), handle: cancel } as const]),
    ...(settings.cancelMethods === 'get'
      ? []
      : [{ method: 'POST', pattern: new RegExp(`^${OPERATION}:cancel$`), handle: cancel } as const]),
  ];

  function route(method: string, path: string, ctx: Context): Answer {
    for (const candidate of routes) {
      if (candidate.method !== method) continue;
      const match = candidate.pattern.exec(path);
      if (match !== null) return candidate.handle(match[1] ?? '', ctx);
    }
    return rpcErrorAnswer(CODE.NOT_FOUND, `Unknown method: ${method} ${path}`, ctx.requestId);
  }

  function faultAnswer(fault: Fault, requestId: string, authorization: string | undefined): Answer {
    if (fault.kind === 'malformed') return { status: 200, raw: fault.body ?? TRUNCATED_OPERATION };
    const status = fault.status ?? 503;
    const code = fault.rpcCode ?? rpcCodeOfStatus(status);
    // `{token}` echoes the credential the request carried, as a careless API might.
    const token = authorization?.replace(/^Bearer\s+/i, '') ?? '';
    const message = (fault.message ?? `Injected fault: HTTP ${status}`).replaceAll('{token}', token);
    const retryAfter = fault.retryAfterSeconds;
    if (retryAfter === undefined) return { status, json: rpcErrorBody(code, message, requestId) };
    return {
      status,
      json: rpcErrorBody(code, message, requestId, [retryInfoDetail(retryAfter)]),
      headers: { 'retry-after': String(Math.ceil(retryAfter)) },
    };
  }

  function send(res: ServerResponse, answer: Answer, headers: Record<string, string>): void {
    if (res.destroyed || res.writableEnded || res.socket === null || res.socket.destroyed) return;
    const body =
      answer.raw ??
      JSON.stringify(answer.json, (_key, value: unknown) =>
        value === Number.POSITIVE_INFINITY ? 'Infinity' : value,
      );
    res.writeHead(answer.status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      ...headers,
      ...answer.headers,
    });
    res.end(body);
  }

  const control: ControlTarget = {
    get emulator() {
      return emulator;
    },
    plans: () => plans.map((plan) => ({ ...plan })),
    faults: () => faults.list(),
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const path = decodedPath(req.url ?? '/');
    const requestId = requestIdFor(req);
    const headers = { 'x-request-id': requestId, 'x-server-trace-id': traceId() };

    if (path === '/_emulator' || path.startsWith('/_emulator/')) {
      const { text } = await readBody(req);
      const answer = controlAnswer(method, path, text, control);
      settings.log(`${method} ${path} ${answer.status}`);
      send(res, answer, headers);
      return;
    }

    const authorized = isAuthorized(headerValue(req.headers.authorization));
    const idempotencyKey = headerValue(req.headers['idempotency-key']);
    const record = (status: number, note: string): void => {
      const entry: RecordedRequest = { method, path, authorized, status, at: settings.now() };
      if (idempotencyKey !== undefined) entry.idempotencyKey = idempotencyKey;
      requests.push(entry);
      settings.log(`${method} ${path} ${status === 0 ? 'dropped' : status}${note}`);
    };

    const fault = faults.take(method, path);
    const note = fault === undefined ? '' : ` (injected ${fault.kind})`;
    if (fault?.kind === 'drop') {
      record(0, note);
      req.socket.destroy();
      return;
    }
    const body = await readBody(req);
    const credential = headerValue(req.headers.authorization);
    let answer: Answer;
    if (fault !== undefined && fault.kind !== 'latency') answer = faultAnswer(fault, requestId, credential);
    else if (!authorized) answer = rpcErrorAnswer(CODE.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE, requestId);
    else if (body.tooLarge)
      answer = rpcErrorAnswer(CODE.INVALID_ARGUMENT, 'Request body is too large', requestId);
    else
      answer = route(method, path, {
        requestId,
        idempotencyKey,
        body: body.text,
        token: bearerOf(credential),
      });
    record(answer.status, note);
    if (fault?.kind === 'latency') await wait(fault.latencyMs ?? 1000);
    send(res, answer, headers);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      settings.log(`emulator error: ${error instanceof Error ? error.message : String(error)}`);
      const requestId = randomUUID();
      send(res, rpcErrorAnswer(CODE.INTERNAL, 'Internal emulator error', requestId), {
        'x-request-id': requestId,
        'x-server-trace-id': traceId(),
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}`;

  const emulator: Emulator = {
    url: baseUrl,
    port,
    plan(p) {
      plans.push(checkPlan(p));
    },
    inject(f) {
      faults.add(f);
    },
    clearFaults() {
      faults.clear();
    },
    get requests() {
      return requests.map((entry) => ({ ...entry }));
    },
    operations() {
      return store.ids().map((id) => store.snapshot(id));
    },
    finish(operationId, outcome) {
      if (!store.has(operationId)) throw new RangeError(`no emulated operation ${operationId}`);
      store.finish(operationId, outcome === undefined ? undefined : checkOutcome('outcome', outcome));
    },
    reset() {
      store.clear();
      faults.clear();
      projects.clear();
      plans = [];
      requests = [];
      sequenceCounts.clear();
    },
    close() {
      for (const entry of waits) {
        clearTimeout(entry.timer);
        entry.resolve();
      }
      waits.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      });
    },
  };
  return emulator;
}
