import { InvalidRequestError } from '../errors.ts';
import type { HttpEvent } from './trigger-event.ts';

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

/** The body as text, decoding base64 when the platform encoded it (non-JSON content types). */
export function bodyText(event: HttpEvent): string {
  const body = event.body ?? '';
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
 * A named parameter from wherever the caller put it: API Gateway path parameters (payload 1.0 and 0.1),
 * URL-invocation `params`, the query string, then the JSON body.
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
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const value = (body as Record<string, unknown>)[name];
    if (value !== undefined) {
      if (typeof value !== 'string' || value.trim() === '') {
        throw new InvalidRequestError(name, 'must be a non-empty string');
      }
      return value.trim();
    }
  }
  return undefined;
}

/** Which run an HTTP status/cancel call is about: `runId` or `operationId`, one of them required. */
export function runLookup(event: HttpEvent, body: unknown): { runId: string } | { operationId: string } {
  const runId = parameter(event, 'runId', body);
  if (runId !== undefined) {
    if (runId.length > 100) throw new InvalidRequestError('runId', 'is too long (at most 100 characters)');
    return { runId };
  }
  const operationId = parameter(event, 'operationId', body);
  if (operationId !== undefined) {
    if (operationId.length > 100)
      throw new InvalidRequestError('operationId', 'is too long (at most 100 characters)');
    return { operationId };
  }
  throw new InvalidRequestError(
    'runId',
    'is required (in the path, the query string or the body), or give operationId',
  );
}
