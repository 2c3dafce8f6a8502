import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import aws4 from 'aws4';
import { createSqsServer } from 'local-aws-sqs';
import { Agent } from 'undici';
import { isRunnerError, type RunnerError } from '../../shared/errors.ts';
import { buildNotification, type RunNotification } from '../../shared/notify/notification.ts';
import { createQueueSender, type QueueSenderOptions } from '../../shared/notify/queue-sender.ts';
import { finishedRecord } from './run-fixture.ts';
import { recordingSleep, startServer, type TestServer } from './test-server.ts';

const KEYS = { accessKeyId: 'AKIDTEST000', secretAccessKey: 'secret-key-test-4711' };
const notification = buildNotification(finishedRecord());

let agent: Agent;
beforeEach(() => {
  agent = new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10 });
});
afterEach(async () => {
  await agent.destroy();
});

async function failure(promise: Promise<unknown>): Promise<RunnerError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isRunnerError(error), `expected a RunnerError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the delivery to fail');
}

/** Minimal XML reading for the test's own calls (independent of the sender's parser). */
function xmlValues(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) =>
    (m[1] ?? '')
      .trim()
      .replaceAll('&quot;', '"')
      .replaceAll('&apos;', "'")
      .replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>')
      .replaceAll('&amp;', '&'),
  );
}

describe('createQueueSender against a local SQS-compatible server', () => {
  let sqs: Server;
  let origin: string;

  /** A signed query-protocol call, as the test's own SQS client. */
  async function sqsCall(params: Record<string, string>): Promise<{ status: number; text: string }> {
    const body = new URLSearchParams({ ...params, Version: '2012-11-05' }).toString();
    const signed = aws4.sign(
      {
        host: new URL(origin).host,
        path: '/',
        method: 'POST',
        service: 'sqs',
        region: 'ru-central1',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      },
      KEYS,
    );
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers ?? {}))
      headers[name.toLowerCase()] = String(value);
    const res = await agent.request({ origin, path: '/', method: 'POST', headers, body });
    return { status: res.statusCode, text: await res.body.text() };
  }

  async function createQueue(name: string): Promise<string> {
    const answer = await sqsCall({ Action: 'CreateQueue', QueueName: name });
    assert.equal(answer.status, 200, answer.text);
    const [url] = xmlValues(answer.text, 'QueueUrl');
    assert.ok(url);
    return url;
  }

  before(async () => {
    sqs = await createSqsServer({ port: 0, hostname: '127.0.0.1', region: 'ru-central1' });
    origin = `http://127.0.0.1:${(sqs.address() as AddressInfo).port}`;
  });
  after(async () => {
    sqs.closeAllConnections();
    await new Promise((resolve) => sqs.close(resolve));
  });

  function sender(queueUrl: string, extra: Partial<QueueSenderOptions> = {}) {
    return createQueueSender({ queueUrl, credentials: KEYS, dispatcher: agent, random: () => 0, ...extra });
  }

  it('sends the notification JSON as the message body with a deliveryId attribute', async () => {
    const queueUrl = await createQueue('run-reports');
    await sender(queueUrl).send(notification);

    const received = await sqsCall({
      Action: 'ReceiveMessage',
      QueueUrl: queueUrl,
      MaxNumberOfMessages: '10',
      'MessageAttributeName.1': 'All',
    });
    assert.equal(received.status, 200, received.text);
    const bodies = xmlValues(received.text, 'Body');
    assert.equal(bodies.length, 1);
    assert.equal(bodies[0], JSON.stringify(notification));
    assert.deepEqual(JSON.parse(bodies[0] ?? '') as RunNotification, notification);

    const names = xmlValues(received.text, 'Name');
    const values = xmlValues(received.text, 'StringValue');
    const attributes = Object.fromEntries(names.map((name, i) => [name, values[i]]));
    assert.equal(attributes.deliveryId, notification.deliveryId);
    assert.equal(attributes.type, 'run.finished');
  });

  it('reports a queue that does not exist with its path and the SQS error code, without retrying', async () => {
    await createQueue('exists');
    const { sleep, waits } = recordingSleep();
    const wrongUrl = `${origin}/123456789012/no-such-queue`;
    const error = await failure(sender(wrongUrl, { sleep }).send(notification));

    assert.equal(error.code, 'NOTIFY_ERROR');
    assert.deepEqual(waits, []);
    assert.ok(
      error.message.startsWith('queue /123456789012/no-such-queue: SendMessage answered HTTP 400'),
      error.message,
    );
    assert.match(error.message, /AWS\.SimpleQueueService\.NonExistentQueue/);
    assert.match(error.message, /does not exist/);
    assert.equal(error.details?.errorCode, 'AWS.SimpleQueueService.NonExistentQueue');
    assert.equal(error.details?.retryable, false);
    assert.doesNotMatch(
      `${error.message} ${JSON.stringify(error.details)}`,
      new RegExp(KEYS.secretAccessKey),
    );
  });
});

describe('createQueueSender on the wire', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const OK_XML =
    '<?xml version="1.0"?><SendMessageResponse><SendMessageResult><MD5OfMessageBody>x</MD5OfMessageBody>' +
    '<MessageId>m-1</MessageId></SendMessageResult><ResponseMetadata><RequestId>r-1</RequestId>' +
    '</ResponseMetadata></SendMessageResponse>';
  const errorXml = (code: string, message: string) =>
    `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error>` +
    '<RequestId>req-42</RequestId></ErrorResponse>';

  function sender(queueUrl: string, extra: Partial<QueueSenderOptions> = {}) {
    return createQueueSender({ queueUrl, credentials: KEYS, dispatcher: agent, random: () => 0, ...extra });
  }

  it('POSTs a documented query-protocol SendMessage to the queue origin, signed with SigV4 for sqs', async () => {
    server = await startServer((_req, res) => res.writeHead(200, { 'content-type': 'text/xml' }).end(OK_XML));
    const queueUrl = `${server.origin}/b1gfolder/dj600queue/run-reports`;
    await sender(queueUrl).send(notification);

    const [req] = server.requests;
    assert.ok(req);
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/');
    assert.match(String(req.headers['content-type']), /^application\/x-www-form-urlencoded/);
    const form = new URLSearchParams(req.body);
    assert.equal(form.get('Action'), 'SendMessage');
    assert.equal(form.get('Version'), '2012-11-05');
    assert.equal(form.get('QueueUrl'), queueUrl);
    assert.equal(form.get('MessageBody'), JSON.stringify(notification));
    assert.equal(form.get('MessageAttribute.1.Name'), 'deliveryId');
    assert.equal(form.get('MessageAttribute.1.Value.DataType'), 'String');
    assert.equal(form.get('MessageAttribute.1.Value.StringValue'), notification.deliveryId);
    assert.doesNotMatch(req.body, /\+/); // spaces and pluses are percent-encoded, never '+'

    // Re-sign what arrived on the wire: the signature must cover exactly these bytes and headers.
    const authorization = String(req.headers.authorization);
    assert.match(
      authorization,
      /^AWS4-HMAC-SHA256 Credential=AKIDTEST000\/\d{8}\/ru-central1\/sqs\/aws4_request, /,
    );
    const expected = aws4.sign(
      {
        host: String(req.headers.host),
        path: '/',
        method: 'POST',
        service: 'sqs',
        region: 'ru-central1',
        headers: {
          'content-type': String(req.headers['content-type']),
          'x-amz-date': String(req.headers['x-amz-date']),
        },
        body: req.body,
      },
      KEYS,
    );
    assert.equal(authorization, (expected.headers as Record<string, string>).Authorization);
  });

  it('retries a throttled SendMessage (YMQ answers ThrottlingException with 403) and re-signs each attempt', async () => {
    server = await startServer((_req, res, index) =>
      index === 0
        ? res.writeHead(403).end(errorXml('ThrottlingException', 'Rate exceeded'))
        : res.writeHead(200).end(OK_XML),
    );
    const { sleep, waits } = recordingSleep();
    await sender(`${server.origin}/f/q/reports`, { sleep }).send(notification);
    assert.equal(server.requests.length, 2);
    assert.deepEqual(waits, [125]);
    assert.ok(server.requests.every((r) => String(r.headers.authorization).startsWith('AWS4-HMAC-SHA256')));
  });

  it('retries 5xx answers and gives up after the configured attempts, naming the last error', async () => {
    server = await startServer((_req, res) =>
      res.writeHead(503).end(errorXml('ServiceUnavailable', 'try later')),
    );
    const { sleep, waits } = recordingSleep();
    const error = await failure(sender(`${server.origin}/f/q/reports`, { sleep }).send(notification));
    assert.equal(server.requests.length, 3);
    assert.deepEqual(waits, [125, 250]);
    assert.equal(
      error.message,
      'queue /f/q/reports: SendMessage answered HTTP 503 ServiceUnavailable: try later (request id req-42) (after 3 attempts)',
    );
  });

  it('keeps the secret key and the signature out of errors, even when the server echoes them', async () => {
    server = await startServer((req, res) =>
      res
        .writeHead(403)
        .end(
          errorXml(
            'SignatureDoesNotMatch',
            `header ${String(req.headers.authorization)} with key ${KEYS.secretAccessKey}`,
          ),
        ),
    );
    const error = await failure(sender(`${server.origin}/f/q/reports`).send(notification));
    const signature = /Signature=([0-9a-f]+)/.exec(String(server.requests[0]?.headers.authorization))?.[1];
    assert.ok(signature);
    const everything = `${error.message} ${JSON.stringify(error.details)}`;
    assert.match(error.message, /SignatureDoesNotMatch/);
    assert.doesNotMatch(everything, new RegExp(KEYS.secretAccessKey));
    assert.doesNotMatch(everything, new RegExp(signature));
  });

  it('refuses a message over 256 KiB before sending anything', async () => {
    server = await startServer((_req, res) => res.writeHead(200).end(OK_XML));
    const huge = buildNotification(
      finishedRecord({ error: { code: 13, message: 'x'.repeat(270_000) }, status: 'FAILED' }),
    );
    const error = await failure(sender(`${server.origin}/f/q/reports`).send(huge));
    assert.equal(server.requests.length, 0);
    assert.match(error.message, /exceeds the 262144-byte \(256 KiB\) limit/);
    assert.equal(error.details?.retryable, false);
  });

  it('treats a 200 without a MessageId as a failed delivery', async () => {
    server = await startServer((_req, res) => res.writeHead(200).end('<html>proxy login</html>'));
    const error = await failure(sender(`${server.origin}/f/q/reports`).send(notification));
    assert.match(error.message, /answered HTTP 200 without a MessageId: "<html>proxy login<\/html>"/);
  });

  it('can send an IAM token in X-YaCloud-SubjectToken instead of signing, and never shows the token', async () => {
    const token = 't1.test-token';
    server = await startServer((req, res) =>
      res
        .writeHead(403)
        .end(errorXml('AccessDeniedException', `token ${String(req.headers['x-yacloud-subjecttoken'])}`)),
    );
    const error = await failure(
      createQueueSender({
        queueUrl: `${server.origin}/f/q/reports`,
        iamToken: { getToken: async () => token },
        dispatcher: agent,
      }).send(notification),
    );
    const [req] = server.requests;
    assert.equal(req?.headers['x-yacloud-subjecttoken'], token);
    assert.equal(req?.headers.authorization, undefined);
    assert.match(error.message, /AccessDeniedException/);
    assert.doesNotMatch(error.message, /t1\.test-token/);
  });

  it('sends to an explicit endpoint when one is given', async () => {
    server = await startServer((_req, res) => res.writeHead(200).end(OK_XML));
    await sender('https://message-queue.api.cloud.yandex.net/b1g/dj6/reports', {
      endpoint: server.origin,
    }).send(notification);
    const form = new URLSearchParams(server.requests[0]?.body ?? '');
    assert.equal(form.get('QueueUrl'), 'https://message-queue.api.cloud.yandex.net/b1g/dj6/reports');
  });

  it('refuses settings that cannot work', () => {
    const make = (extra: Partial<QueueSenderOptions>) => () =>
      createQueueSender({ queueUrl: 'https://mq.example/f/q/n', dispatcher: agent, ...extra });
    assert.throws(make({}), /exactly one/);
    assert.throws(make({ credentials: KEYS, iamToken: { getToken: async () => 't1.x' } }), /exactly one/);
    assert.throws(make({ credentials: { accessKeyId: 'a', secretAccessKey: '' } }), /both be set/);
    assert.throws(make({ credentials: KEYS, queueUrl: 'https://mq.example/' }), /queue URL with a path/);
  });
});
