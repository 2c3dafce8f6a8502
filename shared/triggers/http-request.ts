import { InvalidRequestError, RunnerError } from '../errors.ts';
import { idProblem } from './field-rules.ts';
import { assertBodySize } from './size-limits.ts';
import type { HttpEvent } from './trigger-event.ts';

/**
 * Refuses any method but `allowed` with METHOD_NOT_ALLOWED (405 with `Allow`): one rule for the three
 * functions (execute and cancel take POST, check takes GET).
 */
export function requireMethod(event: HttpEvent, ...allowed: readonly string[]): void {
  const method = event.httpMethod.toUpperCase();
  if (allowed.includes(method)) return;
  throw new RunnerError(
    'METHOD_NOT_ALLOWED',
    `method ${method.slice(0, 20)} is not allowed; use ${allowed.join(' or ')}`,
    { details: { allow: allowed } },
  );
}

/** Case-insensitive header lookup: the platform capitalises names (`Idempotency-Key`). */
export function header(event: HttpEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  for (const [key, values] of Object.entries(event.multiValueHeaders ?? {})) {
    if (key.toLowerCase() === wanted) return values[values.length - 1];
  }
  return undefined;
}

/**
 * The body as text, decoding base64 when the platform encoded it (non-JSON content types). A body over
 * the limit (64 KiB) is REQUEST_TOO_LARGE before anything reads it.
 */
export function bodyText(event: HttpEvent): string {
  const body = event.body ?? '';
  assertBodySize(body, 'body', event.isBase64Encoded ? 'base64' : 'utf8');
  if (!event.isBase64Encoded) return body;
  if (!/^[A-Za-z0-9+/=\s]*$/.test(body)) throw new InvalidRequestError('body', 'is marked base64 but is not');
  return Buffer.from(body, 'base64').toString('utf8');
}

/** The body parsed as JSON; an empty body is `undefined`. */
export function bodyJson(event: HttpEvent): unknown {
  const text = bodyText(event).trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidRequestError('body', `is not valid JSON (${(error as Error).message})`);
  }
}

/**
 * A named id from wherever the caller put it: API Gateway path parameters (payload 1.0 and 0.1),
 * URL-invocation `params`, the query string, then the JSON body. An empty value counts as absent; a
 * value with whitespace (` r1 `) is refused like any other invalid id, never trimmed.
 */
export function parameter(event: HttpEvent, name: string, body: unknown): string | undefined {
  const sources = [
    event.pathParameters,
    event.pathParams,
    event.params,
    event.parameters,
    event.queryStringParameters,
  ];
  for (const source of sources) {
    const value = source?.[name];
    if (typeof value === 'string' && value !== '') return checkedId(name, value);
  }
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const value = (body as Record<string, unknown>)[name];
    if (value !== undefined) return checkedId(name, value);
  }
  return undefined;
}

const MAX_ID_LENGTH = 100;

function checkedId(name: string, value: unknown): string {
  const problem = idProblem(value, 1, MAX_ID_LENGTH);
  if (problem !== undefined) throw new InvalidRequestError(name, problem);
  return value as string;
}

/** Which run an HTTP status/cancel call is about: `runId` or `operationId`, one of them required. */
export function runLookup(event: HttpEvent, body: unknown): { runId: string } | { operationId: string } {
  const runId = parameter(event, 'runId', body);
  if (runId !== undefined) return { runId };
  const operationId = parameter(event, 'operationId', body);
  if (operationId !== undefined) return { operationId };
  throw new InvalidRequestError(
    'runId',
    'is required (in the path, the query string or the body), or give operationId',
  );
}
