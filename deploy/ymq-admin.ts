/**
 * Creates and inspects Message Queue queues (SQS query protocol, yandex-cloud/docs
 * `en/message-queue/api-ref/`). Message Queue accepts only SigV4 signatures with a service
 * account's static keys, so the deploy keeps such a key (of the stage's `queues` account, role
 * `ymq.admin`) in Lockbox and signs with it here.
 */
import aws4 from 'aws4';
import { type Dispatcher, request } from 'undici';
import type { StaticKeys } from '../shared/config.ts';
import { encodeForm, parseErrorAnswer, SQS_API_VERSION, xmlElement } from '../shared/notify/sqs-query.ts';

export interface YmqAdmin {
  /** The queue's URL, or undefined when there is no queue of that name. */
  getQueueUrl(name: string): Promise<string | undefined>;
  createQueue(name: string, attributes: Readonly<Record<string, string>>): Promise<string>;
  getQueueAttributes(url: string): Promise<Record<string, string>>;
  setQueueAttributes(url: string, attributes: Readonly<Record<string, string>>): Promise<void>;
  deleteQueue(url: string): Promise<void>;
}

/** A Message Queue call answered with an error. */
export class YmqError extends Error {
  readonly action: string;
  readonly status: number;
  readonly code: string | undefined;
  constructor(action: string, status: number, code: string | undefined, message: string | undefined) {
    super(`Message Queue ${action}: HTTP ${status}: ${code ?? 'error'}${message ? ` (${message})` : ''}`);
    this.name = 'YmqError';
    this.action = action;
    this.status = status;
    this.code = code;
  }
}

/** Error codes of a signature the service does not (yet) know: a new static key takes a moment. */
const KEY_NOT_YET_KNOWN = new Set(['InvalidClientTokenId', 'SignatureDoesNotMatch', 'AccessDeniedException']);

export interface YmqAdminOptions {
  readonly endpoint: string;
  readonly keys: StaticKeys;
  readonly dispatcher?: Dispatcher | undefined;
  /** Tries per call while a fresh key is not yet accepted. @default 1 */
  readonly attemptsForNewKey?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export function createYmqAdmin(options: YmqAdminOptions): YmqAdmin {
  const endpoint = new URL(options.endpoint);
  const call = async (action: string, params: [string, string][]): Promise<string> => {
    const body = encodeForm([['Action', action], ['Version', SQS_API_VERSION], ...params]);
    const attempts = options.attemptsForNewKey ?? 1;
    for (let attempt = 1; ; attempt += 1) {
      const signed = aws4.sign(
        {
          host: endpoint.host,
          path: endpoint.pathname === '' ? '/' : endpoint.pathname,
          method: 'POST',
          service: 'sqs',
          region: 'ru-central1',
          body,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
        { accessKeyId: options.keys.accessKeyId, secretAccessKey: options.keys.secretAccessKey },
      );
      const response = await request(new URL(endpoint.pathname || '/', endpoint), {
        method: 'POST',
        headers: signed.headers as Record<string, string>,
        body,
        ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      });
      const text = await response.body.text();
      if (response.statusCode >= 200 && response.statusCode < 300) return text;
      const error = parseErrorAnswer(text);
      if (attempt < attempts && KEY_NOT_YET_KNOWN.has(error.code ?? '')) {
        await (options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))))(2_000 * attempt);
        continue;
      }
      throw new YmqError(action, response.statusCode, error.code, error.message);
    }
  };
  const attributeParams = (attributes: Readonly<Record<string, string>>): [string, string][] =>
    Object.entries(attributes).flatMap(([name, value], i) => [
      [`Attribute.${i + 1}.Name`, name],
      [`Attribute.${i + 1}.Value`, value],
    ]);
  return {
    async getQueueUrl(name) {
      try {
        return required(xmlElement(await call('GetQueueUrl', [['QueueName', name]]), 'QueueUrl'), 'QueueUrl');
      } catch (error) {
        if (error instanceof YmqError && error.code?.endsWith('NonExistentQueue')) return undefined;
        throw error;
      }
    },
    async createQueue(name, attributes) {
      const text = await call('CreateQueue', [['QueueName', name], ...attributeParams(attributes)]);
      return required(xmlElement(text, 'QueueUrl'), 'QueueUrl');
    },
    async getQueueAttributes(url) {
      const text = await call('GetQueueAttributes', [
        ['QueueUrl', url],
        ['AttributeName.1', 'All'],
      ]);
      const attributes: Record<string, string> = {};
      for (const match of text.matchAll(/<Attribute>([\s\S]*?)<\/Attribute>/g)) {
        const name = xmlElement(match[1] ?? '', 'Name');
        if (name !== undefined) attributes[name] = xmlElement(match[1] ?? '', 'Value') ?? '';
      }
      return attributes;
    },
    async setQueueAttributes(url, attributes) {
      await call('SetQueueAttributes', [['QueueUrl', url], ...attributeParams(attributes)]);
    },
    async deleteQueue(url) {
      await call('DeleteQueue', [['QueueUrl', url]]);
    },
  };
}

function required(value: string | undefined, what: string): string {
  if (value === undefined) throw new Error(`Message Queue answer has no ${what}`);
  return value;
}
