/**
 * Builds Cloud Functions events exactly in the shapes the platform sends (platform.md §6-§8 and the
 * reference fixtures): URL-invocation HTTP events, timer messages and Message Queue batches.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** Headers the platform strips before the function sees them (platform.md §6). */
const STRIPPED = new Set([
  'expect',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'authorization',
  'connection',
  'content-md5',
  'max-forwards',
  'server',
  'transfer-encoding',
  'www-authenticate',
  'cookie',
]);

const capitalise = (name: string) =>
  name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('-');

function requestTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
}

export interface HttpEventInput {
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  /** Path + query of the original request. */
  readonly url: string;
  readonly body: Buffer;
  readonly sourceIp?: string;
  /** API Gateway-style path parameters (`/runs/{runId}`). */
  readonly pathParameters?: Record<string, string>;
  /**
   * The route's path in the gateway spec (payload 0.1 `path`, with `url` the request's path), for routes
   * a function tells apart by it (`/`: the web console). Absent: a URL invocation (both empty).
   */
  readonly routePath?: string;
  readonly now?: Date;
  /**
   * Set for a route of the API Gateway: the event is the gateway's (payload 0.1), not a URL invocation's:
   * `url` (the request path) and `path` (the spec's path) are filled in, `requestContext.apiGateway`
   * carries the integration's `context` (api-gateway/openapi.yaml), and the caller's `Authorization`
   * header reaches the function: the gateway builds the event itself, so the Functions front's removal
   * of that header on URL invocations (platform.md §6) does not apply (docs/auth.md).
   */
  readonly gateway?: { readonly specPath: string; readonly operationContext: Record<string, unknown> };
}

/**
 * A URL-invocation HTTP event (or, with `gateway`, an API Gateway one); a non-JSON body arrives
 * base64-encoded, as in the cloud.
 */
export function httpEvent(input: HttpEventInput) {
  const now = input.now ?? new Date();
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(input.headers)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (STRIPPED.has(lower) && !(input.gateway !== undefined && lower === 'authorization')) continue;
    const values = Array.isArray(value) ? value : [value];
    const key = capitalise(name);
    headers[key] = values[values.length - 1] ?? '';
    multiValueHeaders[key] = values;
  }
  const requestId = randomUUID();
  headers['X-Request-Id'] ??= requestId;
  multiValueHeaders['X-Request-Id'] ??= [requestId];
  const url = new URL(input.url, 'http://localhost');
  const queryStringParameters: Record<string, string> = {};
  const multiValueQueryStringParameters: Record<string, string[]> = {};
  for (const [key, value] of url.searchParams) {
    queryStringParameters[key] = value;
    const values = multiValueQueryStringParameters[key] ?? [];
    values.push(value);
    multiValueQueryStringParameters[key] = values;
  }
  const contentType = (headers['Content-Type'] ?? '').toLowerCase();
  const isJson = contentType.includes('application/json') || contentType.startsWith('text/');
  const body = isJson ? input.body.toString('utf8') : input.body.toString('base64');
  const pathParameters = input.pathParameters ?? {};
  // A gateway route (the /runs… API, or the console's `/`): payload 0.1's request path and spec path.
  const specPath = input.gateway?.specPath ?? input.routePath;
  return {
    httpMethod: input.method,
    headers,
    multiValueHeaders,
    queryStringParameters,
    multiValueQueryStringParameters,
    requestContext: {
      identity: { sourceIp: input.sourceIp ?? '127.0.0.1', userAgent: headers['User-Agent'] ?? '' },
      httpMethod: input.method,
      requestId: headers['X-Request-Id'],
      requestTime: requestTime(now),
      requestTimeEpoch: Math.floor(now.getTime() / 1000),
      ...(input.gateway === undefined
        ? {}
        : { apiGateway: { operationContext: input.gateway.operationContext } }),
    },
    body,
    isBase64Encoded: !isJson && input.body.length > 0,
    url: specPath === undefined ? '' : url.pathname,
    path: specPath ?? '',
    params: pathParameters,
    multiValueParams: Object.fromEntries(Object.entries(pathParameters).map(([k, v]) => [k, [v]])),
    pathParams: pathParameters,
    ...(input.pathParameters === undefined ? {} : { pathParameters }),
  };
}

const id20 = () => randomUUID().replace(/-/g, '').slice(0, 20);

/** A timer trigger message (`payload` only when given: plugin-made timers send none). */
export function timerEvent(
  options: { now?: Date; payload?: string; eventId?: string; triggerId?: string } = {},
) {
  const now = options.now ?? new Date();
  return {
    messages: [
      {
        event_metadata: {
          event_id: options.eventId ?? id20(),
          event_type: 'yandex.cloud.events.serverless.triggers.TimerMessage',
          // The platform sends microseconds: 2025-06-02T06:01:00.087554Z.
          created_at: now.toISOString().replace('Z', '000Z'),
          cloud_id: 'b1glocalcloud0000000',
          folder_id: 'b1glocalfolder000000',
        },
        details: {
          trigger_id: options.triggerId ?? 'a1slocaltimer0000000',
          ...(options.payload === undefined ? {} : { payload: options.payload }),
        },
      },
    ],
  };
}

export interface QueueMessageInput {
  readonly messageId?: string;
  readonly body: string;
  readonly sentAt?: Date;
  readonly receiveCount?: number;
}

/** A Message Queue trigger batch. */
export function queueEvent(messages: readonly QueueMessageInput[], queueName = 'datasphere-runs') {
  const now = new Date();
  return {
    messages: messages.map((message) => {
      const messageId = message.messageId ?? randomUUID();
      return {
        event_metadata: {
          event_id: messageId,
          event_type: 'yandex.cloud.events.messagequeue.QueueMessage',
          created_at: now.toISOString().replace('Z', '000Z'),
        },
        details: {
          queue_id: `yrn:yc:ymq:ru-central1:b1glocalfolder000000:${queueName}`,
          message: {
            message_id: messageId,
            md5_of_body: createHash('md5').update(message.body).digest('hex'),
            body: message.body,
            attributes: {
              SentTimestamp: String((message.sentAt ?? now).getTime()),
              ApproximateReceiveCount: String(message.receiveCount ?? 1),
            },
            message_attributes: {},
            md5_of_message_attributes: '',
          },
        },
      };
    }),
  };
}
