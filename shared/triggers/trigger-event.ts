import { InvalidRequestError } from '../errors.ts';

/**
 * Yandex Cloud Functions events, as they really arrive (platform.md §4, §6-§8). The published
 * `@yandex-cloud/function-types` lack the timer `payload`, the URL-invocation fields and API Gateway v1.0
 * fields, so these thin local types extend them; everything is validated at runtime anyway.
 */

export interface HttpEvent {
  readonly httpMethod: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly multiValueHeaders?: Readonly<Record<string, readonly string[]>>;
  readonly queryStringParameters?: Readonly<Record<string, string>>;
  readonly multiValueQueryStringParameters?: Readonly<Record<string, readonly string[]>>;
  readonly requestContext?: { readonly requestId?: string; readonly httpMethod?: string };
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly url?: string;
  readonly path?: string;
  /** URL invocation / API Gateway payload 0.1. */
  readonly params?: Readonly<Record<string, string>>;
  readonly pathParams?: Readonly<Record<string, string>>;
  /** API Gateway payload 1.0. */
  readonly pathParameters?: Readonly<Record<string, string>>;
  readonly parameters?: Readonly<Record<string, string>>;
}

export interface TimerMessage {
  readonly event_metadata: {
    readonly event_id: string;
    readonly event_type: string;
    readonly created_at: string;
  };
  readonly details: { readonly trigger_id?: string; readonly payload?: string };
}

export interface QueueMessage {
  readonly event_metadata: {
    readonly event_id: string;
    readonly event_type: string;
    readonly created_at?: string;
  };
  readonly details: {
    readonly queue_id?: string;
    readonly message: {
      readonly message_id: string;
      readonly body: string;
      readonly md5_of_body?: string;
      readonly attributes?: Readonly<Record<string, string>>;
      readonly message_attributes?: Readonly<Record<string, unknown>>;
    };
  };
}

export type TriggerEvent =
  | { readonly kind: 'http'; readonly event: HttpEvent }
  | { readonly kind: 'timer'; readonly messages: readonly TimerMessage[] }
  | { readonly kind: 'queue'; readonly messages: readonly QueueMessage[] };

const TIMER_TYPE = 'yandex.cloud.events.serverless.triggers.TimerMessage';
const QUEUE_TYPE = 'yandex.cloud.events.messagequeue.QueueMessage';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Tells an HTTP call from a timer or Message Queue trigger and checks the shape it needs. */
export function classifyEvent(event: unknown): TriggerEvent {
  if (!isObject(event)) throw new InvalidRequestError('event', 'must be an object (HTTP or trigger event)');
  if (typeof event.httpMethod === 'string') return { kind: 'http', event: event as unknown as HttpEvent };
  const messages = event.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new InvalidRequestError(
      'event',
      'is neither an HTTP event (httpMethod) nor a trigger event (messages[])',
    );
  }
  const types = new Set<string>();
  messages.forEach((message, index) => {
    const meta = isObject(message) ? message.event_metadata : undefined;
    if (!isObject(message) || !isObject(meta) || typeof meta.event_type !== 'string') {
      throw new InvalidRequestError(`messages.${index}.event_metadata.event_type`, 'is missing');
    }
    if (typeof meta.event_id !== 'string' || meta.event_id === '') {
      throw new InvalidRequestError(`messages.${index}.event_metadata.event_id`, 'is missing');
    }
    if (!isObject(message.details)) throw new InvalidRequestError(`messages.${index}.details`, 'is missing');
    types.add(meta.event_type);
  });
  if (types.size !== 1) throw new InvalidRequestError('messages', 'mixes several event types in one batch');
  const [type] = types;
  if (type === TIMER_TYPE) return { kind: 'timer', messages: messages as TimerMessage[] };
  if (type === QUEUE_TYPE) return { kind: 'queue', messages: messages as QueueMessage[] };
  throw new InvalidRequestError(
    'messages.0.event_metadata.event_type',
    `"${type}" is not a timer or queue event`,
  );
}

/** The message id and body of one queue message, or an error naming what is missing. */
export function queueMessageParts(message: QueueMessage, index: number): { messageId: string; body: string } {
  const inner = isObject(message.details.message) ? message.details.message : undefined;
  const messageId =
    typeof inner?.message_id === 'string' ? inner.message_id : message.event_metadata.event_id;
  if (typeof inner?.body !== 'string') {
    throw new InvalidRequestError(`messages.${index}.details.message.body`, 'is missing');
  }
  return { messageId, body: inner.body };
}

/** `created_at` of a timer message as a Date ("now" for a tick). */
export function timerCreatedAt(message: TimerMessage, index: number): Date {
  const raw = message.event_metadata.created_at;
  const date = typeof raw === 'string' ? new Date(raw) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) {
    throw new InvalidRequestError(
      `messages.${index}.event_metadata.created_at`,
      'is not an RFC 3339 timestamp',
    );
  }
  return date;
}
