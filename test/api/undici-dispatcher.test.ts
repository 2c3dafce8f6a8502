import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Dispatcher } from 'undici';
import { errorCodeOf, NETWORK_ERROR_CODES, TIMEOUT_ERROR_CODES } from '../../shared/api/retry-policy.ts';
import { createDispatcher } from '../../shared/api/undici-dispatcher.ts';

type Route = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/** A server on 127.0.0.1 whose answer per path the test sets; it counts TCP connections. */
async function startServer(routes: Record<string, Route>) {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const route = routes[req.url ?? ''];
      if (route === undefined) res.writeHead(404).end();
      else route(req, Buffer.concat(chunks).toString('utf8'), res);
    });
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    connections: () => connections,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return errorCodeOf(error);
  }
  assert.fail('expected a rejection');
}

describe('undici dispatcher: the production Agent against a local server', () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  let dispatcher: Dispatcher;

  before(async () => {
    server = await startServer({
      '/echo': (req, body, res) => {
        res.writeHead(201, { 'content-type': 'application/json', 'x-request-id': 'r-1' });
        res.end(
          JSON.stringify({
            method: req.method,
            body,
            contentLength: req.headers['content-length'] ?? null,
            auth: req.headers.authorization ?? null,
          }),
        );
      },
      '/utf8': (_req, _body, res) => {
        // A multi-byte character split across two chunks must come out whole.
        const bytes = Buffer.from('{"name":"тест"}');
        res.writeHead(200, { 'content-length': String(bytes.length) });
        res.write(bytes.subarray(0, 10));
        setTimeout(() => res.end(bytes.subarray(10)), 5);
      },
      '/silent': () => {
        // Never answers: the headers timeout must fire.
      },
      '/stall': (_req, _body, res) => {
        res.writeHead(200, { 'content-length': '100' });
        res.write('partial');
      },
      '/big': (_req, _body, res) => {
        res.writeHead(200);
        res.end('x'.repeat(256 * 1024));
      },
    });
    dispatcher = createDispatcher({ keepAliveTimeoutMs: 2_000 });
  });

  after(async () => {
    await dispatcher.close();
    await server.close();
  });

  it('sends method, headers and a JSON body with its length, and answers status, headers and text', async () => {
    const res = await dispatcher.request({
      origin: server.origin,
      path: '/echo',
      method: 'POST',
      headers: { authorization: 'Bearer t1.test-token', 'content-type': 'application/json' },
      body: '{"a":"é"}',
    });
    assert.equal(res.statusCode, 201);
    assert.equal(res.headers['x-request-id'], 'r-1');
    const seen = JSON.parse(await res.body.text());
    assert.deepEqual(seen, {
      method: 'POST',
      body: '{"a":"é"}',
      contentLength: String(Buffer.byteLength('{"a":"é"}')),
      auth: 'Bearer t1.test-token',
    });
  });

  it('keeps the connection alive between sequential requests', async () => {
    const before = server.connections();
    for (let i = 0; i < 3; i++) {
      const res = await dispatcher.request({ origin: server.origin, path: '/echo', method: 'GET' });
      await res.body.text();
    }
    assert.ok(server.connections() - before <= 1, `opened ${server.connections() - before} connections`);
  });

  it('decodes a UTF-8 body split across chunks', async () => {
    const res = await dispatcher.request({ origin: server.origin, path: '/utf8', method: 'GET' });
    assert.deepEqual(JSON.parse(await res.body.text()), { name: 'тест' });
  });

  it('lets a reader stop early (async iteration), closing that answer', async () => {
    const res = await dispatcher.request({ origin: server.origin, path: '/big', method: 'GET' });
    let read = 0;
    for await (const chunk of res.body) {
      read += (chunk as Uint8Array).length;
      break;
    }
    assert.ok(read > 0 && read < 256 * 1024);
    const next = await dispatcher.request({ origin: server.origin, path: '/echo', method: 'GET' });
    assert.equal(next.statusCode, 201);
    await next.body.text();
  });

  it('fails with UND_ERR_HEADERS_TIMEOUT when no answer comes, a code the transport retries as a timeout', async () => {
    const code = await codeOf(
      dispatcher.request({ origin: server.origin, path: '/silent', method: 'GET', headersTimeout: 50 }),
    );
    assert.equal(code, 'UND_ERR_HEADERS_TIMEOUT');
    assert.ok(TIMEOUT_ERROR_CODES.has(code ?? ''));
  });

  it('fails the body read with UND_ERR_BODY_TIMEOUT when the body stalls', async () => {
    const res = await dispatcher.request({
      origin: server.origin,
      path: '/stall',
      method: 'GET',
      bodyTimeout: 50,
    });
    assert.equal(res.statusCode, 200);
    assert.equal(await codeOf(res.body.text()), 'UND_ERR_BODY_TIMEOUT');
  });

  it('rejects with the abort reason when the signal aborts, before or during the request', async () => {
    const reason = new Error('caller gave up');
    await assert.rejects(
      dispatcher.request({
        origin: server.origin,
        path: '/echo',
        method: 'GET',
        signal: AbortSignal.abort(reason),
      }),
      (error) => error === reason,
    );
    const controller = new AbortController();
    const pending = dispatcher.request({
      origin: server.origin,
      path: '/silent',
      method: 'GET',
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(pending, (error) => error === reason);
  });

  it('reports a refused connection as ECONNREFUSED, which the transport retries', async () => {
    const closed = await startServer({});
    const origin = closed.origin;
    await closed.close();
    const code = await codeOf(dispatcher.request({ origin, path: '/', method: 'GET' }));
    assert.equal(code, 'ECONNREFUSED');
    assert.ok(NETWORK_ERROR_CODES.has(code ?? ''));
  });

  it('refuses requests after close(), with a code no caller retries', async () => {
    const own = createDispatcher();
    await own.close();
    const code = await codeOf(own.request({ origin: server.origin, path: '/echo', method: 'GET' }));
    assert.equal(code, 'UND_ERR_DESTROYED');
    assert.ok(!NETWORK_ERROR_CODES.has(code ?? '') && !TIMEOUT_ERROR_CODES.has(code ?? ''));
  });

  it('opens at most `connections` sockets per origin; the rest wait their turn and are answered', async () => {
    const own = createDispatcher({ connections: 4 });
    const slow = await startServer({
      '/slow': (_req, _body, res) => {
        setTimeout(() => res.end('{}'), 30);
      },
    });
    try {
      const answers = await Promise.all(
        Array.from({ length: 12 }, async () => {
          const res = await own.request({ origin: slow.origin, path: '/slow', method: 'GET' });
          await res.body.text();
          return res.statusCode;
        }),
      );
      assert.deepEqual(new Set(answers), new Set([200]));
      assert.equal(slow.connections(), 4);
    } finally {
      await own.close();
      await slow.close();
    }
  });

  it('fails an answer over maxResponseBytes instead of buffering it', async () => {
    const own = createDispatcher({ maxResponseBytes: 64 * 1024 });
    try {
      const outcome = await own.request({ origin: server.origin, path: '/big', method: 'GET' }).then(
        (res) =>
          res.body.text().then(
            () => 'read',
            (error: unknown) => errorCodeOf(error),
          ),
        (error: unknown) => errorCodeOf(error),
      );
      assert.equal(outcome, 'UND_ERR_RES_EXCEEDED_MAX_SIZE');
    } finally {
      await own.close();
    }
  });

  it('runs on the Agent and request files alone: the undici package entry is never loaded', () => {
    const require = createRequire(import.meta.url);
    const undiciFiles = Object.keys(require.cache).filter((file) => file.includes('/node_modules/undici/'));
    assert.ok(undiciFiles.some((file) => file.endsWith('/lib/dispatcher/agent.js')));
    assert.ok(!undiciFiles.some((file) => file.endsWith('/undici/index.js')), 'undici/index.js was loaded');
    assert.ok(!undiciFiles.some((file) => file.includes('/lib/web/fetch/index.js')), 'fetch was loaded');
    assert.ok(!undiciFiles.some((file) => file.includes('/lib/mock/')), 'the mock layer was loaded');
  });
});
