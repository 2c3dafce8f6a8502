import {
  CONCURRENCY_POLICIES,
  RETRYABLE_STATUSES,
  type RetryPolicy,
  RUN_ACTIONS,
  type RunAction,
  type RunRequest,
} from '../core/run-record.ts';
import { InvalidRequestError } from '../errors.ts';
import {
  arrayProblem,
  bytesProblem,
  idProblem,
  integerInRange,
  isPlainObject,
  numberInRange,
  objectProblem,
  oneOfProblem,
  ProblemList,
  REQUIRED,
  textProblem,
  typeName,
} from './field-rules.ts';
import { parseMessageJson } from './message-json.ts';
import { byteSize, LIMITS } from './size-limits.ts';

/**
 * The run request (design.md §4): the same JSON arrives as a timer payload, an HTTP body and a queue
 * message body, and as a job's `run` in the jobs file. Validation is strict (unknown fields are an
 * error), reports every wrong field at once, and never trims or repairs a value: what is stored and
 * sent is exactly what was asked, or nothing is. The rules are written out rather than built with a
 * schema library: the wording must be the same for the same rule on every field, the action decides
 * which fields are allowed, and a name like `__proto__` must be seen, not silently skipped.
 */

const MAX_TIMEOUT_SECONDS = 604800;
// DataSphere exposes input variables to the run as environment variables, so keys must be usable names.
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/**
 * `__proto__` is refused by name. Every other variable name reaches Execute as an own property, but
 * JavaScript gives this one a meaning: a copy by assignment (`out[key] = value`, Object.assign, many
 * libraries) changes the copy's prototype instead of adding the key, so it would vanish silently
 * somewhere between the request and the API. No notebook needs a variable of that name.
 */
/** An idempotency key, in the body or the Idempotency-Key header: 1..128 printable ASCII, no spaces. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;
const RESERVED_VARIABLE_NAMES: ReadonlySet<string> = new Set(['__proto__']);

const FIELDS = [
  'action',
  'projectId',
  'notebookId',
  'inputVariables',
  'outputVariableNames',
  'spec',
  'sparkConnectorId',
  'dockerId',
  'timeoutSeconds',
  'concurrency',
  'retry',
  'idempotencyKey',
] as const;
type Field = (typeof FIELDS)[number];
/** Fields stored as sent, in FIELDS order; the others are rebuilt (action, inputVariables, retry) or not stored. */
const COPIED_FIELDS = FIELDS.filter(
  (field) =>
    field !== 'action' && field !== 'inputVariables' && field !== 'retry' && field !== 'idempotencyKey',
);

/** What `open` and `activate` take (design.md §4); `execute` takes every field. */
const ACTION_FIELDS: Readonly<Record<Exclude<RunAction, 'execute'>, readonly Field[]>> = {
  open: ['action', 'projectId', 'timeoutSeconds', 'idempotencyKey', 'concurrency', 'retry'],
  activate: ['action', 'projectId', 'dockerId', 'timeoutSeconds', 'idempotencyKey', 'concurrency', 'retry'],
};

const RETRY_FIELDS = ['attempts', 'delaySeconds', 'backoff', 'on'] as const;
const RETRY_DEFAULTS: RetryPolicy = { attempts: 1, delaySeconds: 60, backoff: 2, on: ['FAILED'] };

export interface ParsedRunRequest {
  readonly request: RunRequest;
  readonly idempotencyKey: string | undefined;
}

/** `inputVariables.MODE`, or `inputVariables["a b"]` for a key that is not a plain name. */
const member = (parent: string, key: string): string =>
  /^[A-Za-z0-9_$]+$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;

/** A top-level key as a field name: `colour`, or `["a b"]`. */
const topField = (key: string): string => member('', key).replace(/^\./, '');

/**
 * Validates a run request with its optional `idempotencyKey`. `fieldPrefix` prefixes field names in
 * errors (`jobs.nightly.run`). Throws one InvalidRequestError listing every wrong field.
 */
export function parseRunRequestInput(value: unknown, fieldPrefix = ''): ParsedRunRequest {
  const problems = new ProblemList(fieldPrefix);
  if (!isPlainObject(value)) {
    throw new InvalidRequestError(
      fieldPrefix || 'body',
      `must be a JSON object (a run request), got ${typeName(value)}`,
    );
  }
  const input = value;
  const has = (field: Field): boolean => Object.hasOwn(input, field);

  // The action decides which fields belong; an unknown action is reported and the rest checked as execute.
  let action: RunAction | undefined = 'execute';
  if (has('action')) {
    action = problems.check('action', oneOfProblem(input.action, RUN_ACTIONS))
      ? (input.action as RunAction)
      : undefined;
  }
  const allowed: readonly string[] =
    action === undefined || action === 'execute' ? FIELDS : ACTION_FIELDS[action];

  for (const key of Object.keys(input)) {
    if (!(FIELDS as readonly string[]).includes(key)) {
      problems.check(topField(key), 'is not a field of a run request');
    } else if (!allowed.includes(key)) {
      problems.check(
        key,
        `is not allowed with action "${action}" (it takes only ${allowed.filter((f) => f !== 'action').join(', ')})`,
      );
    }
  }
  const present = (field: Field): boolean => has(field) && allowed.includes(field);

  if (!has('projectId')) problems.check('projectId', REQUIRED);
  else problems.check('projectId', idProblem(input.projectId, 1, 50));
  if (action === 'execute') {
    if (!has('notebookId')) problems.check('notebookId', REQUIRED);
    else problems.check('notebookId', textProblem(input.notebookId, 1, 200));
  }
  if (action === 'activate' && !has('dockerId'))
    problems.check('dockerId', `${REQUIRED} with action "activate"`);
  if (present('dockerId')) problems.check('dockerId', idProblem(input.dockerId, 1, 50));
  if (present('inputVariables')) checkInputVariables(input.inputVariables, problems);
  if (present('outputVariableNames')) checkOutputNames(input.outputVariableNames, problems);
  if (present('spec') && problems.check('spec', idProblem(input.spec, 1, 50))) {
    problems.check(
      'spec',
      /^[a-z][a-z0-9]*\.[0-9]+$/.test(input.spec as string) ? undefined : 'must look like c1.4 or g1.1',
    );
  }
  if (present('sparkConnectorId'))
    problems.check('sparkConnectorId', idProblem(input.sparkConnectorId, 1, 200));
  if (present('timeoutSeconds')) {
    problems.check('timeoutSeconds', integerInRange(input.timeoutSeconds, 1, MAX_TIMEOUT_SECONDS));
  }
  if (present('concurrency'))
    problems.check('concurrency', oneOfProblem(input.concurrency, CONCURRENCY_POLICIES));
  if (
    present('idempotencyKey') &&
    problems.check('idempotencyKey', idProblem(input.idempotencyKey, 1, 128))
  ) {
    problems.check(
      'idempotencyKey',
      IDEMPOTENCY_KEY.test(input.idempotencyKey as string)
        ? undefined
        : 'must be printable ASCII without spaces',
    );
  }
  const retry = present('retry') ? parseRetry(input.retry, problems) : undefined;

  const size = jsonSize(input);
  if (size > LIMITS.requestBytes) {
    problems.check(
      largestField(input),
      Number.isFinite(size)
        ? `makes the run request ${size} bytes of JSON, over the limit of ${LIMITS.requestBytes} bytes (this field is its largest part)`
        : 'is nested too deeply',
    );
  }

  if (problems.problems.length > 0) throw InvalidRequestError.of(problems.problems);

  // Built field by field in one order, absent fields left out: the canonical hash and
  // exactOptionalPropertyTypes both need that. An explicit "execute" is stored as no action.
  const request: Record<string, unknown> = {};
  if (action === 'open' || action === 'activate') request.action = action;
  for (const field of COPIED_FIELDS) {
    if (present(field)) request[field] = input[field];
  }
  if (present('inputVariables'))
    request.inputVariables = copyVariables(input.inputVariables as Record<string, unknown>);
  if (retry !== undefined) request.retry = retry;
  return {
    request: request as unknown as RunRequest,
    idempotencyKey: present('idempotencyKey') ? (input.idempotencyKey as string) : undefined,
  };
}

function checkInputVariables(value: unknown, problems: ProblemList): void {
  if (!problems.check('inputVariables', objectProblem(value))) return;
  const vars = value as Record<string, unknown>;
  const names = Object.keys(vars);
  if (names.length > LIMITS.variables) {
    problems.check('inputVariables', `must have at most ${LIMITS.variables} variables, got ${names.length}`);
  }
  for (const name of names) {
    const field = member('inputVariables', name);
    if (RESERVED_VARIABLE_NAMES.has(name)) {
      problems.check(
        field,
        'is a reserved name (JavaScript gives it a special meaning); choose another name',
      );
      continue;
    }
    if (!VARIABLE_NAME.test(name)) {
      problems.check(
        field,
        'is not a variable name (a letter or _, then letters, digits or _, at most 128 characters)',
      );
      continue;
    }
    const item = vars[name];
    if (typeof item === 'string') problems.check(field, bytesProblem(byteSize(item), LIMITS.variableBytes));
    else if (typeof item === 'number') {
      problems.check(field, Number.isFinite(item) ? undefined : `must be a finite number, got ${item}`);
    } else if (typeof item !== 'boolean') {
      problems.check(field, `must be a string, a number or a boolean, got ${typeName(item)}`);
    }
  }
}

function checkOutputNames(value: unknown, problems: ProblemList): void {
  if (!problems.check('outputVariableNames', arrayProblem(value))) return;
  const names = value as unknown[];
  if (names.length > LIMITS.variables) {
    problems.check('outputVariableNames', `must have at most ${LIMITS.variables} items, got ${names.length}`);
  }
  names.forEach((name, index) => {
    problems.check(`outputVariableNames.${index}`, idProblem(name, 1, 200));
  });
}

/** `retry` with its defaults applied, or undefined when it is wrong (the problems are recorded). */
function parseRetry(value: unknown, problems: ProblemList): RetryPolicy | undefined {
  if (!problems.check('retry', objectProblem(value))) return undefined;
  const retry = value as Record<string, unknown>;
  const before = problems.problems.length;
  for (const key of Object.keys(retry)) {
    if (!(RETRY_FIELDS as readonly string[]).includes(key)) {
      problems.check(member('retry', key), `is not a field of retry (it takes ${RETRY_FIELDS.join(', ')})`);
    }
  }
  const has = (key: string) => Object.hasOwn(retry, key);
  if (has('attempts')) problems.check('retry.attempts', integerInRange(retry.attempts, 1, 10));
  if (has('delaySeconds')) problems.check('retry.delaySeconds', integerInRange(retry.delaySeconds, 1, 86400));
  if (has('backoff')) problems.check('retry.backoff', numberInRange(retry.backoff, 1, 10));
  let on: RetryPolicy['on'] = RETRY_DEFAULTS.on;
  if (has('on') && problems.check('retry.on', arrayProblem(retry.on))) {
    const statuses = retry.on as unknown[];
    if (statuses.length === 0)
      problems.check('retry.on', 'must name at least one status ("FAILED", "TIMED_OUT")');
    const seen = new Set<unknown>();
    statuses.forEach((status, index) => {
      if (!problems.check(`retry.on.${index}`, oneOfProblem(status, RETRYABLE_STATUSES))) return;
      if (seen.has(status)) problems.check(`retry.on.${index}`, `repeats ${JSON.stringify(status)}`);
      seen.add(status);
    });
    // One order, so that ["TIMED_OUT", "FAILED"] and ["FAILED", "TIMED_OUT"] are the same request.
    on = RETRYABLE_STATUSES.filter((status) => seen.has(status));
  }
  if (problems.problems.length > before) return undefined;
  return {
    attempts: has('attempts') ? (retry.attempts as number) : RETRY_DEFAULTS.attempts,
    delaySeconds: has('delaySeconds') ? (retry.delaySeconds as number) : RETRY_DEFAULTS.delaySeconds,
    backoff: has('backoff') ? (retry.backoff as number) : RETRY_DEFAULTS.backoff,
    on,
  };
}

/** A fresh object with the same own keys (`constructor`, `prototype` included, as plain data keys). */
function copyVariables(vars: Record<string, unknown>): Record<string, string | number | boolean> {
  return Object.fromEntries(Object.entries(vars)) as Record<string, string | number | boolean>;
}

/** Bytes of `value` as JSON; a structure too deep to serialise counts as over every limit. */
function jsonSize(value: unknown): number {
  try {
    return byteSize(JSON.stringify(value) ?? '');
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** The top-level field with the most bytes of JSON: the one to name when the request is too large. */
function largestField(input: Record<string, unknown>): string {
  let largest = '';
  let most = -1;
  for (const [key, item] of Object.entries(input)) {
    const bytes = jsonSize(item);
    if (bytes > most) {
      most = bytes;
      largest = key;
    }
  }
  return topField(largest);
}

/**
 * The idempotency key of an HTTP start: the `Idempotency-Key` header (trimmed; blank is refused) or the
 * body's `idempotencyKey`; both may be sent only when they are equal.
 */
export function httpIdempotencyKey(
  headerValue: string | undefined,
  parsed: ParsedRunRequest,
): string | undefined {
  const headerKey = headerValue?.trim();
  if (headerKey === undefined) return parsed.idempotencyKey;
  if (headerKey !== '' && parsed.idempotencyKey !== undefined && headerKey !== parsed.idempotencyKey) {
    throw new InvalidRequestError(
      'idempotencyKey',
      'differs from the Idempotency-Key header; send one of them',
    );
  }
  if (!IDEMPOTENCY_KEY.test(headerKey)) {
    throw new InvalidRequestError(
      'Idempotency-Key',
      'must be 1..128 printable ASCII characters without spaces',
    );
  }
  return headerKey;
}

/** Validates a run request that must not carry an idempotency key (jobs file entries). */
export function parseRunRequest(value: unknown, fieldPrefix = ''): RunRequest {
  const parsed = parseRunRequestInput(value, fieldPrefix);
  if (parsed.idempotencyKey !== undefined) {
    throw new InvalidRequestError(
      [fieldPrefix, 'idempotencyKey'].filter(Boolean).join('.'),
      'is not allowed here (scheduled runs are deduplicated per job and minute)',
    );
  }
  return parsed.request;
}

/**
 * Parses a trigger message's JSON text (a queue message body, a timer payload) into a run request.
 * Over the body limit it is REQUEST_TOO_LARGE without being parsed; bad JSON is INVALID_REQUEST on
 * `field`. Both can never succeed, so the trigger drops the message.
 */
export function parseRunRequestJson(text: string, field: string): ParsedRunRequest {
  return parseRunRequestInput(parseMessageJson(text, field), '');
}
