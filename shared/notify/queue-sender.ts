import aws4 from 'aws4';
import type { Dispatcher } from 'undici';
import { ConfigError } from '../errors.ts';
import { type AttemptResult, postOnce } from './http-attempt.ts';
import type { RunNotification } from './notification.ts';
import { notifyError, scrub, snippet } from './notify-error.ts';
import {
  afterFailedAttempt,
  createRetrySchedule,
  type DeliveryFailure,
  type DeliveryRetryOptions,
  defaultSleep,
  parseRetryAfter,
} from './retry-schedule.ts';
import type { Sender } from './sender.ts';
import {
  encodeForm,
  MAX_MESSAGE_BYTES,
  messageSize,
  parseErrorAnswer,
  parseSendMessageAnswer,
  SQS_API_VERSION,
  sqsSafeJson,
  stringAttributes,
} from './sqs-query.ts';

/** A service account's static access key (the documented way to call Message Queue). */
export interface QueueCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

/** Same shape as the API module's TokenSource, so one object can serve both. */
export interface QueueTokenSource {
  getToken(signal?: AbortSignal): Promise<string>;
}

export interface QueueSenderOptions {
  /** `https://message-queue.api.cloud.yandex.net/<folder-id>/<queue-id>/<name>` */
  readonly queueUrl: string;
  /** SigV4 region. @default 'ru-central1' */
  readonly region?: string | undefined;
  /** Static access keys: requests are signed with AWS Signature V4 (service `sqs`). */
  readonly credentials?: QueueCredentials | undefined;
  /**
   * Instead of keys: an IAM token sent in `X-YaCloud-SubjectToken`. NOT in Yandex's documentation;
   * the open-source YMQ front end accepts it for service-account tokens (see the report). Exactly one
   * of `credentials` and `iamToken` must be given.
   */
  readonly iamToken?: QueueTokenSource | undefined;
  /** Where requests go. @default the queue URL's origin */
  readonly endpoint?: string | undefined;
  readonly dispatcher: Dispatcher;
  /** Per-attempt limit. @default 5000 */
  readonly timeoutMs?: number | undefined;
  /** @default 3 attempts, 250 ms ×2 up to 2 s */
  readonly retry?: DeliveryRetryOptions | undefined;
  readonly sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
  readonly random?: (() => number) | undefined;
  readonly now?: (() => number) | undefined;
  /** @default 'datasphere-runner/0.1 (+notify)' */
  readonly userAgent?: string | undefined;
}

/** Error codes a later attempt may not meet again, whatever the HTTP status (YMQ throttles with 403). */
const TRANSIENT_SQS_CODES: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'RequestThrottled',
  'ServiceUnavailable',
  'InternalFailure',
  'InternalError',
  'AWS.SimpleQueueService.InternalError',
  'KmsThrottled',
]);

/**
 * The Yandex Message Queue destination: `SendMessage` over the documented query protocol
 * (form-encoded POST, `Version=2012-11-05`, XML answer). The message body is the notification JSON
 * (the exact bytes a webhook receives); message attributes `deliveryId` (stable, for deduplication:
 * standard queues ignore `MessageDeduplicationId`) and `type` (`run.finished`) ride along. Messages
 * over 256 KiB are refused before sending. 429, 5xx, throttling codes, dropped connections and
 * timeouts are retried in-call; a retried SendMessage may store a second copy, which consumers drop
 * by `deliveryId`. Failures are RunnerError `NOTIFY_ERROR` naming `queue <path>` and the SQS error
 * code and message, never the secret key, the token or the signature.
 */
export function createQueueSender(options: QueueSenderOptions): Sender {
  const queueUrl = parseUrl('queue.url', options.queueUrl);
  if (queueUrl.pathname === '/' || queueUrl.pathname === '') {
    throw new ConfigError(
      'queue.url',
      'must be a queue URL with a path (https://message-queue.api.cloud.yandex.net/<folder>/<queue-id>/<name>)',
    );
  }
  const endpoint =
    options.endpoint === undefined ? new URL(queueUrl.origin) : parseUrl('queue.endpoint', options.endpoint);
  const credentials = options.credentials;
  const tokenSource = options.iamToken;
  if ((credentials === undefined) === (tokenSource === undefined)) {
    throw new ConfigError(
      'queue.credentials',
      'give exactly one of static access keys (credentials) or an IAM token source',
    );
  }
  if (credentials !== undefined && (credentials.accessKeyId === '' || credentials.secretAccessKey === '')) {
    throw new ConfigError('queue.credentials', 'accessKeyId and secretAccessKey must both be set');
  }
  const region = options.region ?? 'ru-central1';
  const timeoutMs = options.timeoutMs ?? 5_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new ConfigError('queue.timeoutMs', `${timeoutMs} must be a positive integer`);
  }
  const schedule = createRetrySchedule(options.retry, options.random);
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? Date.now;
  const userAgent = options.userAgent ?? 'datasphere-runner/0.1 (+notify)';
  const { dispatcher } = options;
  const target = queueUrl.pathname;
  const endpointPath = `${endpoint.pathname}${endpoint.search}`;
  const keptSecret: readonly (string | undefined)[] = [
    credentials?.secretAccessKey,
    credentials?.sessionToken,
  ];

  /** Headers for one attempt, and the per-attempt secrets (token, signature) to keep out of errors. */
  async function headersFor(
    body: string,
    signal: AbortSignal | undefined,
  ): Promise<{ headers: Record<string, string>; secrets: string[] }> {
    const base = {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      'user-agent': userAgent,
    };
    if (credentials === undefined) {
      const token = await (tokenSource as QueueTokenSource).getToken(signal);
      return { headers: { ...base, 'x-yacloud-subjecttoken': token }, secrets: [token] };
    }
    // Signed per attempt: a fresh X-Amz-Date keeps retries clear of RequestExpired.
    const signed = aws4.sign(
      {
        host: endpoint.host,
        path: endpointPath,
        method: 'POST',
        service: 'sqs',
        region,
        headers: base,
        body,
      },
      {
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        ...(credentials.sessionToken === undefined ? {} : { sessionToken: credentials.sessionToken }),
      },
    );
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers ?? {})) {
      if (value !== undefined) headers[name.toLowerCase()] = String(value);
    }
    const signature = /Signature=([0-9a-f]+)/.exec(headers.authorization ?? '')?.[1];
    return { headers, secrets: signature === undefined ? [] : [signature] };
  }

  return {
    name: 'queue',
    async send(notification: RunNotification, signal?: AbortSignal): Promise<void> {
      const messageBody = sqsSafeJson(JSON.stringify(notification));
      const attributes = { deliveryId: notification.deliveryId, type: notification.type };
      const size = messageSize(messageBody, attributes);
      const base = { destination: 'queue', target };
      if (size > MAX_MESSAGE_BYTES) {
        throw notifyError(
          { ...base, attempts: 0, errorCode: 'MESSAGE_TOO_LARGE', retryable: false },
          `message of ${size} bytes exceeds the ${MAX_MESSAGE_BYTES}-byte (256 KiB) limit`,
        );
      }
      const body = encodeForm([
        ['Action', 'SendMessage'],
        ['Version', SQS_API_VERSION],
        ['QueueUrl', queueUrl.href],
        ['MessageBody', messageBody],
        ...stringAttributes(attributes),
      ]);

      for (let attempt = 1; ; attempt++) {
        let headers: Record<string, string>;
        let hidden: readonly (string | undefined)[] = keptSecret;
        try {
          const prepared = await headersFor(body, signal);
          headers = prepared.headers;
          hidden = [...keptSecret, ...prepared.secrets];
        } catch (error) {
          const reason = scrub(error instanceof Error ? error.message : String(error), hidden);
          throw notifyError(
            { ...base, attempts: attempt, errorCode: 'AUTH_UNAVAILABLE', retryable: true },
            `no IAM token for SendMessage (${snippet(reason)})`,
            error,
          );
        }
        const result = await postOnce(dispatcher, {
          origin: endpoint.origin,
          path: endpointPath,
          headers,
          body,
          timeoutMs,
          signal,
          maxBodyChars: 16_384,
        });
        if (result.kind === 'answer' && result.status >= 200 && result.status < 300) {
          const answer = parseSendMessageAnswer(result.text);
          if (answer.messageId !== undefined) return;
          const said = snippet(scrub(result.text, hidden));
          throw notifyError(
            {
              ...base,
              attempts: attempt,
              httpStatus: result.status,
              errorCode: 'BAD_ANSWER',
              retryable: true,
            },
            `SendMessage answered HTTP ${result.status} without a MessageId${said === '' ? '' : `: "${said}"`}`,
          );
        }
        const failure = describeFailure(result, timeoutMs, now(), hidden);
        const facts = {
          ...base,
          attempts: attempt,
          httpStatus: failure.httpStatus,
          errorCode: failure.errorCode,
          requestId: failure.requestId,
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
      const answer = parseErrorAnswer(result.text);
      const code = answer.code === undefined ? undefined : scrub(answer.code, hidden);
      const transient =
        result.status === 429 ||
        (result.status >= 500 && result.status !== 501) ||
        (code !== undefined && TRANSIENT_SQS_CODES.has(code));
      const message = snippet(scrub(answer.message ?? (code === undefined ? result.text : ''), hidden), 300);
      const requestId = answer.requestId ?? header(result.headers, 'x-amzn-requestid');
      const parts = [`SendMessage answered HTTP ${result.status}`];
      if (code !== undefined) parts.push(` ${code}`);
      if (message !== '') parts.push(`: ${message}`);
      if (requestId !== undefined) parts.push(` (request id ${snippet(requestId, 100)})`);
      return {
        problem: parts.join(''),
        inCallRetry: transient,
        retryable: transient,
        retryAfterMs: transient ? parseRetryAfter(header(result.headers, 'retry-after'), nowMs) : undefined,
        httpStatus: result.status,
        errorCode: code,
        requestId,
      };
    }
    case 'timeout':
      return {
        problem: `SendMessage: no answer within ${timeoutMs} ms`,
        inCallRetry: true,
        retryable: true,
        errorCode: 'TIMEOUT',
        cause: result.error,
      };
    case 'network':
      return {
        problem: `SendMessage: connection failed (${result.errorCode})`,
        inCallRetry: result.transient,
        retryable: true,
        errorCode: result.errorCode,
        cause: result.error,
      };
    case 'aborted':
      return {
        problem: 'SendMessage aborted by the caller',
        inCallRetry: false,
        retryable: true,
        errorCode: 'ABORTED',
      };
  }
}

function header(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  name: string,
): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseUrl(setting: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(setting, 'is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(setting, `must use http or https, not ${url.protocol.replace(/:$/, '')}`);
  }
  if (url.username !== '' || url.password !== '')
    throw new ConfigError(setting, 'must not carry credentials');
  return url;
}
