import * as v from 'valibot';
import type { RunRequest } from '../core/run-record.ts';
import { InvalidRequestError } from '../errors.ts';

/**
 * The run request (design.md §4): the same JSON arrives as a timer payload, an HTTP body and a queue
 * message body. Validation is strict (unknown fields are an error) and every error names the field,
 * so nothing reaches the DataSphere API unless it is valid.
 */

const MAX_TIMEOUT_SECONDS = 604800;
// DataSphere exposes input variables to the run as environment variables, so keys must be usable names.
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

const idString = (max: number, what: string) =>
  v.pipe(
    v.string('must be a string'),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(max, `must be at most ${max} characters (${what})`),
  );

const runRequestSchema = v.strictObject(
  {
    projectId: idString(50, 'a DataSphere project id'),
    notebookId: idString(200, 'the notebook path in project storage'),
    inputVariables: v.optional(
      v.pipe(
        v.custom<Record<string, unknown>>(
          (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
          'must be an object of string, number or boolean values',
        ),
        v.record(
          v.pipe(
            v.string(),
            v.regex(ENV_NAME, 'names must be environment variable names ([A-Za-z_][A-Za-z0-9_]*)'),
          ),
          v.union(
            [v.string(), v.pipe(v.number(), v.finite('must be a finite number')), v.boolean()],
            'must be a string, a number or a boolean',
          ),
          'must be an object of string, number or boolean values',
        ),
        v.check((vars) => Object.keys(vars).length <= 100, 'must have at most 100 variables'),
      ),
    ),
    outputVariableNames: v.optional(
      v.pipe(
        v.array(idString(200, 'a variable name'), 'must be an array of strings'),
        v.maxLength(100, 'must have at most 100 names'),
      ),
    ),
    spec: v.optional(
      v.pipe(
        idString(50, 'a VM configuration'),
        v.regex(/^[a-z][a-z0-9]*\.[0-9]+$/, 'must look like c1.4 or g1.1'),
      ),
    ),
    sparkConnectorId: v.optional(idString(200, 'a Spark connector id')),
    dockerId: v.optional(idString(50, 'a Docker image id')),
    timeoutSeconds: v.optional(
      v.pipe(
        v.number('must be a whole number of seconds'),
        v.integer('must be a whole number of seconds'),
        v.minValue(1, `must be between 1 and ${MAX_TIMEOUT_SECONDS}`),
        v.maxValue(MAX_TIMEOUT_SECONDS, `must be between 1 and ${MAX_TIMEOUT_SECONDS} (7 days)`),
      ),
    ),
    concurrency: v.optional(v.picklist(['allow', 'skip'], 'must be "allow" or "skip"')),
    idempotencyKey: v.optional(
      v.pipe(
        idString(128, 'an idempotency key'),
        v.regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
      ),
    ),
  },
  'must be a JSON object',
);

export interface ParsedRunRequest {
  readonly request: RunRequest;
  readonly idempotencyKey: string | undefined;
}

function toInvalid(issue: v.BaseIssue<unknown>, prefix: string): InvalidRequestError {
  const path = issue.path?.map((item) => String(item.key)) ?? [];
  const field = [prefix, ...path].filter((part) => part !== '').join('.');
  // valibot reports an unknown key of a strict object as "expected never".
  if (issue.type === 'strict_object' && issue.expected === 'never') {
    return new InvalidRequestError(field, 'is not a known field of a run request');
  }
  if (issue.kind === 'schema' && issue.input === undefined) {
    return new InvalidRequestError(field, 'is required');
  }
  return new InvalidRequestError(field, issue.message);
}

/** Validates a run request with its optional `idempotencyKey`. `fieldPrefix` prefixes field names in errors. */
export function parseRunRequestInput(value: unknown, fieldPrefix = ''): ParsedRunRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidRequestError(fieldPrefix || 'body', 'must be a JSON object (a run request)');
  }
  const result = v.safeParse(runRequestSchema, value, { abortEarly: true });
  if (!result.success) {
    const issue = result.issues[0];
    throw issue === undefined
      ? new InvalidRequestError(fieldPrefix, 'is invalid')
      : toInvalid(issue, fieldPrefix);
  }
  const { idempotencyKey, ...rest } = result.output;
  // Drop undefined members so canonical hashing and exactOptionalPropertyTypes agree.
  const request = Object.fromEntries(
    Object.entries(rest).filter(([, item]) => item !== undefined),
  ) as unknown as RunRequest;
  return { request, idempotencyKey };
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

/** Parses JSON text into a run request; bad JSON is an InvalidRequestError on `field`. */
export function parseRunRequestJson(text: string, field: string): ParsedRunRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidRequestError(field, `is not valid JSON (${(error as Error).message})`);
  }
  return parseRunRequestInput(value, '');
}
