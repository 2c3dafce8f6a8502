import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Agent } from 'undici';
import { isRunnerError, type RunnerError } from '../../shared/errors.ts';
import { buildNotification } from '../../shared/notify/notification.ts';
import { createWebhookSender, type WebhookSenderOptions } from '../../shared/notify/webhook-sender.ts';
import { finishedRecord } from './run-fixture.ts';
import { recordingSleep, startServer, type TestServer } from './test-server.ts';

const SECRET = 'whsec-test-0123456789';
const notification = buildNotification(finishedRecord());

let agent: Agent;
let server: TestServer | undefined;

beforeEach(() => {
  agent = new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10 });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await agent.destroy();
});

function sender(url: string, extra: Partial<WebhookSenderOptions> = {}) {
  return createWebhookSender({ url, secret: SECRET, dispatcher: agent, random: () => 0, ...extra });
}

async function failure(promise: Promise<unknown>): Promise<RunnerError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isRunnerError(error), `expected a RunnerError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the delivery to fail');
}

describe('createWebhookSender', () => {
  it('POSTs the notification as JSON with the secret header, the delivery id and a body signature', async () => {
    server = await startServer((_req, res) => res.writeHead(204).end());
    await sender(`${server.origin}/hooks/runner?team=ml`).send(notification);

    assert.equal(server.requests.length, 1);
    const [req] = server.requests;
    assert.ok(req);
    assert.equal(req.method, 'POST');
    assert.equal(req.url, '/hooks/runner?team=ml');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.match(String(req.headers['user-agent']), /^datasphere-runner\//);
    assert.equal(req.headers['x-runner-secret'], SECRET);
    assert.equal(req.headers['idempotency-key'], notification.deliveryId);
    assert.equal(req.headers['x-delivery-id'], notification.deliveryId);
    assert.equal(req.headers['x-runner-event'], 'run.finished');
    assert.equal(
      req.headers['x-runner-signature'],
      `sha256=${createHmac('sha256', SECRET).update(req.body).digest('hex')}`,
    );
    assert.deepEqual(JSON.parse(req.body), notification);
  });

  it('uses a custom secret header, and sends neither secret nor signature without a secret', async () => {
    server = await startServer((_req, res) => res.writeHead(200).end('ok'));
    await sender(`${server.origin}/a`, { secretHeader: 'X-Hook-Token' }).send(notification);
    await createWebhookSender({ url: `${server.origin}/b`, dispatcher: agent }).send(notification);

    assert.equal(server.requests[0]?.headers['x-hook-token'], SECRET);
    assert.equal(server.requests[0]?.headers['x-runner-secret'], undefined);
    const plain = server.requests[1]?.headers ?? {};
    assert.equal(plain['x-runner-secret'], undefined);
    assert.equal(plain['x-runner-signature'], undefined);
    assert.equal(plain['x-delivery-id'], notification.deliveryId);
  });

  it('retries after a 503 and succeeds, with the same delivery id and body on every attempt', async () => {
    server = await startServer((_req, res, index) => res.writeHead(index === 0 ? 503 : 200).end());
    const { sleep, waits } = recordingSleep();
    await sender(`${server.origin}/hook`, { sleep }).send(notification);

    assert.equal(server.requests.length, 2);
    assert.deepEqual(waits, [125]); // equal jitter with random() = 0: half of the 250 ms base
    assert.equal(server.requests[0]?.body, server.requests[1]?.body);
    assert.equal(server.requests[0]?.headers['x-delivery-id'], server.requests[1]?.headers['x-delivery-id']);
  });

  it('retries after the server drops the connection and succeeds', async () => {
    server = await startServer((_req, res, index) => {
      if (index === 0) res.socket?.destroy();
      else res.writeHead(202).end();
    });
    const { sleep, waits } = recordingSleep();
    await sender(`${server.origin}/hook`, { sleep }).send(notification);
    assert.equal(server.requests.length, 2);
    assert.equal(waits.length, 1);
  });

  it('waits as long as a 429 Retry-After asks before the next attempt', async () => {
    server = await startServer((_req, res, index) =>
      index === 0 ? res.writeHead(429, { 'retry-after': '2' }).end() : res.writeHead(200).end(),
    );
    const { sleep, waits } = recordingSleep();
    await sender(`${server.origin}/hook`, { sleep }).send(notification);
    assert.deepEqual(waits, [2000]);
  });

  it('reads an HTTP-date Retry-After relative to the injected clock', async () => {
    const now = Date.parse('2026-05-01T10:00:00Z');
    server = await startServer((_req, res, index) =>
      index === 0
        ? res.writeHead(503, { 'retry-after': 'Fri, 01 May 2026 10:00:03 GMT' }).end()
        : res.writeHead(200).end(),
    );
    const { sleep, waits } = recordingSleep();
    await sender(`${server.origin}/hook`, { sleep, now: () => now }).send(notification);
    assert.deepEqual(waits, [3000]);
  });

  it('gives up at once when Retry-After is longer than the call may wait, leaving it to a later sweep', async () => {
    server = await startServer((_req, res) => res.writeHead(429, { 'retry-after': '120' }).end());
    const { sleep, waits } = recordingSleep();
    const error = await failure(sender(`${server.origin}/hook`, { sleep }).send(notification));
    assert.equal(server.requests.length, 1);
    assert.deepEqual(waits, []);
    assert.match(error.message, /HTTP 429/);
    assert.match(error.message, /retry after 120 s/);
    assert.equal(error.details?.retryable, true);
  });

  it('gives up after the configured attempts with a NOTIFY_ERROR naming the destination and the status', async () => {
    server = await startServer((_req, res) => res.writeHead(500).end('database is down'));
    const { sleep, waits } = recordingSleep();
    const error = await failure(
      sender(`${server.origin}/hooks/runner?token=abc123`, { sleep, retry: { attempts: 4 } }).send(
        notification,
      ),
    );
    const host = new URL(server.origin).host;

    assert.equal(error.code, 'NOTIFY_ERROR');
    assert.equal(server.requests.length, 4);
    assert.deepEqual(waits, [125, 250, 500]);
    assert.ok(error.message.startsWith(`webhook ${host}/hooks/runner: answered HTTP 500`), error.message);
    assert.match(error.message, /database is down/);
    assert.match(error.message, /after 4 attempts/);
    assert.doesNotMatch(error.message, /token|abc123|\?/);
    assert.equal(error.details?.httpStatus, 500);
    assert.equal(error.details?.attempts, 4);
  });

  it('does not retry a 400', async () => {
    server = await startServer((_req, res) =>
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"unknown field run"}'),
    );
    const { sleep, waits } = recordingSleep();
    const error = await failure(sender(`${server.origin}/hook`, { sleep }).send(notification));
    assert.equal(server.requests.length, 1);
    assert.deepEqual(waits, []);
    assert.match(error.message, /answered HTTP 400: "\{"error":"unknown field run"\}"/);
    assert.equal(error.details?.retryable, false);
  });

  it('does not follow a redirect', async () => {
    server = await startServer((_req, res) => res.writeHead(302, { location: '/elsewhere?sig=zzz' }).end());
    const error = await failure(sender(`${server.origin}/hook`).send(notification));
    assert.equal(server.requests.length, 1);
    assert.match(error.message, /HTTP 302 \(redirect to \/elsewhere not followed\)/);
    assert.doesNotMatch(error.message, /zzz/);
  });

  it('times out an attempt that gets no answer, retries it, then reports the timeout', async () => {
    server = await startServer(() => {
      // never answers
    });
    const { sleep } = recordingSleep();
    const error = await failure(
      sender(`${server.origin}/hook`, { sleep, timeoutMs: 50, retry: { attempts: 2 } }).send(notification),
    );
    assert.equal(server.requests.length, 2);
    assert.match(error.message, /no answer within 50 ms \(after 2 attempts\)/);
    assert.equal(error.details?.errorCode, 'TIMEOUT');
  });

  it('reports a refused connection with its error code after retrying it', async () => {
    const closed = await startServer(() => {});
    const origin = closed.origin;
    await closed.close();
    const { sleep, waits } = recordingSleep();
    const error = await failure(sender(`${origin}/hook`, { sleep }).send(notification));
    assert.equal(waits.length, 2);
    assert.match(error.message, /connection failed \(ECONNREFUSED\) \(after 3 attempts\)/);
  });

  it('never puts the secret or the query string in an error, even when the receiver echoes them', async () => {
    server = await startServer((req, res) =>
      res.writeHead(401).end(`bad secret ${String(req.headers['x-runner-secret'])} for ${req.url}`),
    );
    const error = await failure(sender(`${server.origin}/hook?key=k-999888`).send(notification));
    const everything = `${error.message} ${JSON.stringify(error.details)}`;
    assert.match(error.message, /HTTP 401/);
    assert.doesNotMatch(everything, new RegExp(SECRET));
    assert.doesNotMatch(everything, /k-999888/);
    assert.match(error.message, /\[REDACTED\]/);
  });

  it('stops at once when the caller aborts while it waits to retry', async () => {
    server = await startServer((_req, res) => res.writeHead(503).end());
    const controller = new AbortController();
    const sleep = async (_ms: number, signal?: AbortSignal) => {
      controller.abort(new Error('function deadline'));
      signal?.throwIfAborted();
    };
    const error = await failure(
      sender(`${server.origin}/hook`, { sleep }).send(notification, controller.signal),
    );
    assert.equal(server.requests.length, 1);
    assert.match(error.message, /aborted by the caller/);
  });

  it('refuses settings that cannot work, without echoing the URL', () => {
    const make =
      (url: string, extra: Partial<WebhookSenderOptions> = {}) =>
      () =>
        createWebhookSender({ url, dispatcher: agent, ...extra });
    assert.throws(
      make('not a url?token=s3cr3t'),
      (e: Error) => isRunnerError(e) && !e.message.includes('s3cr3t'),
    );
    assert.throws(make('ftp://example.com/x'), /http or https/);
    assert.throws(make('https://user:pw@example.com/x'), /credentials/);
    assert.throws(make('https://example.com/x', { secretHeader: 'Bad Header' }), /header name/);
    assert.throws(make('https://example.com/x', { secret: 'a\r\nb' }), /line breaks/);
    assert.throws(make('https://example.com/x', { retry: { attempts: 0 } }), /retry\.attempts/);
  });
});
