import type { ListRunsQuery } from '../core/list-runs.ts';
import {
  RUN_ACTIONS,
  RUN_STATUSES,
  type RunAction,
  type RunStatus,
  TRIGGER_KINDS,
  type TriggerKind,
} from '../core/run-record.ts';
import { InvalidRequestError } from '../errors.ts';
import { parameter } from './http-request.ts';
import type { HttpEvent } from './trigger-event.ts';

/**
 * The query string of `GET /runs` (design.md §6) parsed into a ListRunsQuery. Every wrong parameter is
 * named, all of them at once (`error.errors[]`, the first also in `error.message`); an unknown parameter
 * is an error too, so a typo (`stauts=FAILED`) never silently lists everything.
 */

const PARAMETERS = [
  'limit',
  'cursor',
  'status',
  'projectId',
  'notebookId',
  'job',
  'trigger',
  'action',
  'since',
  'until',
] as const;
/** ISO 8601 as users write it: a date, or a date-time with a zone (`Z` or `±hh:mm`). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i;
const MAX_CURSOR_LENGTH = 1024;

/** One wrong parameter: its name and what is wrong, in words. */
export interface QueryProblem {
  readonly field: string;
  readonly problem: string;
}

/** A GET that names no run (neither `runId` nor `operationId`, in the path or the query) asks for the history. */
export function isRunListRequest(event: HttpEvent): boolean {
  return (
    event.httpMethod.toUpperCase() === 'GET' &&
    parameter(event, 'runId', undefined) === undefined &&
    parameter(event, 'operationId', undefined) === undefined
  );
}

/** The history query of `event`; throws one INVALID_REQUEST naming every wrong parameter. */
export function parseRunListQuery(event: HttpEvent): ListRunsQuery {
  const problems: QueryProblem[] = [];
  const values = queryValues(event);
  const one = (name: string): string | undefined => {
    const all = values.get(name);
    if (all === undefined) return undefined;
    const distinct = [...new Set(all.map((v) => v.trim()))];
    if (distinct.length > 1) {
      problems.push({ field: name, problem: 'is given more than once with different values' });
      return undefined;
    }
    const value = distinct[0] ?? '';
    if (value === '') {
      problems.push({ field: name, problem: 'must not be empty' });
      return undefined;
    }
    return value;
  };

  for (const name of values.keys()) {
    if (!(PARAMETERS as readonly string[]).includes(name)) {
      problems.push(
        name === 'runId' || name === 'operationId'
          ? { field: name, problem: 'must not be empty (give a run, or leave it out to list runs)' }
          : { field: name, problem: `is not a parameter of the run list (known: ${PARAMETERS.join(', ')})` },
      );
    }
  }

  const query: { -readonly [K in keyof ListRunsQuery]: ListRunsQuery[K] } = {};

  const limit = one('limit');
  if (limit !== undefined) {
    const n = /^\d{1,3}$/.test(limit) ? Number(limit) : Number.NaN;
    if (n >= 1 && n <= 100) query.limit = n;
    else problems.push({ field: 'limit', problem: 'must be a whole number from 1 to 100' });
  }

  const cursor = one('cursor');
  if (cursor !== undefined) {
    if (cursor.length <= MAX_CURSOR_LENGTH && /^[A-Za-z0-9_-]+$/.test(cursor)) query.cursor = cursor;
    else problems.push({ field: 'cursor', problem: 'is not a cursor this service issued' });
  }

  const statuses = values.get('status');
  if (statuses !== undefined) {
    const items = statuses.flatMap((v) => v.split(',')).map((v) => v.trim().toUpperCase());
    const unknown = items.filter((s) => !(RUN_STATUSES as readonly string[]).includes(s));
    if (items.length === 0 || unknown.length > 0) {
      const what = unknown.filter((s) => s !== '').map((s) => `"${s}"`);
      problems.push({
        field: 'status',
        problem:
          `${what.length > 0 ? `${what.join(', ')} is not a run status; ` : 'must not be empty; '}` +
          `give one or more of ${RUN_STATUSES.join(', ')}, separated by commas`,
      });
    } else {
      query.status = [...new Set(items)] as RunStatus[];
    }
  }

  for (const [name, max] of [
    ['projectId', 50],
    ['notebookId', 200],
    ['job', 100],
  ] as const) {
    const value = one(name);
    if (value === undefined) continue;
    if (value.length > max) problems.push({ field: name, problem: `must be at most ${max} characters` });
    else query[name] = value;
  }

  const trigger = one('trigger')?.toLowerCase();
  if (trigger !== undefined) {
    if ((TRIGGER_KINDS as readonly string[]).includes(trigger)) query.trigger = trigger as TriggerKind;
    else problems.push({ field: 'trigger', problem: `must be one of ${TRIGGER_KINDS.join(', ')}` });
  }

  const action = one('action')?.toLowerCase();
  if (action !== undefined) {
    if ((RUN_ACTIONS as readonly string[]).includes(action)) query.action = action as RunAction;
    else problems.push({ field: 'action', problem: `must be one of ${RUN_ACTIONS.join(', ')}` });
  }

  for (const name of ['since', 'until'] as const) {
    const value = one(name);
    if (value === undefined) continue;
    const ms = ISO_TIME.test(value) ? Date.parse(value) : Number.NaN;
    if (Number.isFinite(ms)) query[name] = new Date(ms);
    else {
      problems.push({
        field: name,
        problem: 'must be an ISO 8601 time with a zone (2025-06-01T08:00:00Z) or a date (2025-06-01, UTC)',
      });
    }
  }
  if (query.since !== undefined && query.until !== undefined && query.since >= query.until) {
    problems.push({ field: 'since', problem: 'must be before until' });
  }

  if (problems.length > 0) {
    // In the order the caller wrote the parameters.
    const order = [...values.keys()];
    throw invalidQuery([...problems].sort((a, b) => order.indexOf(a.field) - order.indexOf(b.field)));
  }
  return query;
}

/** Every name=value of the query string, repeated names kept (`status=FAILED&status=TIMED_OUT`). */
function queryValues(event: HttpEvent): Map<string, string[]> {
  const values = new Map<string, string[]>();
  const multi = event.multiValueQueryStringParameters ?? {};
  for (const [name, list] of Object.entries(multi)) values.set(name, [...list]);
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (!values.has(name)) values.set(name, [value]);
  }
  return values;
}

/** One INVALID_REQUEST for all problems: the first in `message`/`field`, every one in `details.errors`. */
export function invalidQuery(problems: readonly QueryProblem[]): InvalidRequestError {
  return problems.length === 0
    ? new InvalidRequestError('query', 'is invalid')
    : InvalidRequestError.of(problems);
}
