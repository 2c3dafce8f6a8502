import { createHmac } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { ConfigError } from '../errors.ts';
import { type AttemptResult, postOnce } from './http-attempt.ts';
import type { RunNotification } from './notification.ts';
import { describeUrl, notifyError, scrub, snippet } from './notify-error.ts';
import {
  afterFailedAttempt,
  createRetrySchedule,
  type DeliveryFailure,
  type DeliveryRetryOptions,
  defaultSleep,
  parseRetryAfter,
} from './retry-schedule.ts';
import type { Sender } from './sender.ts';

export interface WebhookSenderOptions {
  /** http(s) URL the notification is POSTed to; a query string is sent but never shown in errors. */
  readonly url: string;
  /** Shared secret: sent in `secretHeader`, and used to sign the body (`X-Runner-Signature`). */
  readonly secret?: string | undefined;
  /** @default 'X-Runner-Secret' */
  readonly secretHeader?: string | undefined;
  /** Per-attempt limit for connect, headers and body together. @default 5000 */
  readonly timeoutMs?: number | undefined;
  readonly dispatcher: Dispatcher;
  /** @default 3 attempts, 250 ms ×2 up to 2 s, Retry-After honoured up to 10 s */
  readonly retry?: DeliveryRetryOptions | undefined;
  /** Waits between attempts; must reject when `signal` aborts. */
  readonly sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
  /** Jitter source. @default Math.random */
  readonly random?: (() => number) | undefined;
  /** For HTTP-date Retry-After values. @default Date.now */
  readonly now?: (() => number) | undefined;
  /** @default 'datasphere-runner/0.1 (+notify)' */
  readonly userAgent?: string | undefined;
}

export const DEFAULT_SECRET_HEADER = 'X-Runner-Secret';
export const SIGNATURE_HEADER = 'X-Runner-Signature';
export const DEFAULT_NOTIFY_USER_AGENT = 'datasphere-runner/0.1 (+notify)';

/** Statuses worth another attempt: the receiver is overloaded, restarting or timed out. */
function isTransientStatus(status: number): boolean {
  return (
    status === 408 || status === 429 || (status >= 500 && status <= 599 && status !== 501 && status !== 505)
  );
}

/**
 * The webhook destination. Each attempt POSTs the notification as JSON with:
 * `content-type: application/json`, `user-agent`, `Idempotency-Key` and `X-Delivery-Id` (both the
 * deliveryId, the same on every attempt and every sweep), `X-Runner-Event: run.finished`, and with a
 * secret the secret header plus `X-Runner-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes,
 * keyed with the secret>`. Any 2xx is success. 408, 429 and 5xx (but 501/505), dropped connections
 * and timeouts are retried in-call with jittered backoff (a Retry-After is honoured up to its cap);
 * any other status, a redirect included, fails at once. Failures are RunnerError `NOTIFY_ERROR`
 * naming `webhook <host><path>` and the status or error code, never the query string or the secret.
 */
export function createWebhookSender(options: WebhookSenderOptions): Sender {
  const url = parseWebhookUrl(options.url);
  const target = describeUrl(url);
  const secret = options.secret === undefined || options.secret === '' ? undefined : options.secret;
  const secretHeader = options.secretHeader ?? DEFAULT_SECRET_HEADER;
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(secretHeader)) {
    throw new ConfigError('webhook.secretHeader', `"${secretHeader}" is not a valid header name`);
  }
  if (secret !== undefined && /[\r\n\0]/.test(secret)) {
    throw new ConfigError('webhook.secret', 'must not contain line breaks or NUL characters');
  }
  const timeoutMs = options.timeoutMs ?? 5_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new ConfigError('webhook.timeoutMs', `${timeoutMs} must be a positive integer`);
  }
  const schedule = createRetrySchedule(options.retry, options.random);
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? Date.now;
  const userAgent = options.userAgent ?? DEFAULT_NOTIFY_USER_AGENT;
  const { dispatcher } = options;
  // Anything that could carry a credential is scrubbed from text the receiver sent back.
  const hidden = [secret, url.search.length > 1 ? url.search.slice(1) : undefined];

  return {
    name: 'webhook',
    async send(notification: RunNotification, signal?: AbortSignal): Promise<void> {
      const body = JSON.stringify(notification);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        accept: 'application/json, text/plain;q=0.9, */*;q=0.1',
        'user-agent': userAgent,
        'idempotency-key': notification.deliveryId,
        'x-delivery-id': notification.deliveryId,
        'x-runner-event': notification.type,
      };
      if (secret !== undefined) {
        headers[secretHeader.toLowerCase()] = secret;
        headers[SIGNATURE_HEADER.toLowerCase()] =
          `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
      }
      const path = `${url.pathname}${url.search}`;

      for (let attempt = 1; ; attempt++) {
        const result = await postOnce(dispatcher, {
          origin: url.origin,
          path,
          headers,
          body,
          timeoutMs,
          signal,
          maxBodyChars: 2_048,
        });
        if (result.kind === 'answer' && result.status >= 200 && result.status < 300) return;

        const failure = describeFailure(result, timeoutMs, now(), hidden);
        const facts = {
          destination: 'webhook',
          target,
          attempts: attempt,
          httpStatus: failure.httpStatus,
          errorCode: failure.errorCode,
          retryable: failure.retryable,
        };
        await afterFailedAttempt({
          schedule,
          attempt,
          failure,
          aborted: result.kind === 'aborted' ? { reason: result.reason } : undefined,
          sleep,
          signal,
          fail: (problem, cause, retryable) =>
            notifyError(retryable === undefined ? facts : { ...facts, retryable }, problem, cause),
        });
      }
    },
  };
}

type Failure = DeliveryFailure;

function describeFailure(
  result: AttemptResult,
  timeoutMs: number,
  nowMs: number,
  hidden: readonly (string | undefined)[],
): Failure {
  switch (result.kind) {
    case 'answer': {
      const transient = isTransientStatus(result.status);
      const location = header(result.headers, 'location');
      const said = snippet(scrub(result.text, hidden));
      const redirect =
        result.status >= 300 && result.status < 400
          ? ` (redirect${location === undefined ? '' : ` to ${describeLocation(location)}`} not followed)`
          : '';
      return {
        problem: `answered HTTP ${result.status}${redirect}${said === '' ? '' : `: "${said}"`}`,
        inCallRetry: transient,
        retryable: transient,
        retryAfterMs: transient ? parseRetryAfter(header(result.headers, 'retry-after'), nowMs) : undefined,
        httpStatus: result.status,
      };
    }
    case 'timeout':
      return {
        problem: `no answer within ${timeoutMs} ms`,
        inCallRetry: true,
        retryable: true,
        errorCode: 'TIMEOUT',
        cause: result.error,
      };
    case 'network':
      return {
        problem: `connection failed (${result.errorCode})`,
        inCallRetry: result.transient,
        retryable: true,
        errorCode: result.errorCode,
        cause: result.error,
      };
    case 'aborted':
      return { problem: 'aborted by the caller', inCallRetry: false, retryable: true, errorCode: 'ABORTED' };
  }
}

function header(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  name: string,
): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A redirect target, without its query string (it may carry a token). */
function describeLocation(location: string): string {
  try {
    const parsed = new URL(location, 'http://relative.invalid');
    return parsed.host === 'relative.invalid' ? parsed.pathname : describeUrl(parsed);
  } catch {
    return '(unreadable location)';
  }
}

function parseWebhookUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('webhook.url', 'is not a URL (expected e.g. https://hooks.example.com/runner)');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError('webhook.url', `must use http or https, not ${url.protocol.replace(/:$/, '')}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError('webhook.url', 'must not carry credentials (use the webhook secret instead)');
  }
  url.hash = '';
  return url;
}
