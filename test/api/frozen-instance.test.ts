import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { Dispatcher } from 'undici';
import { DataSphereClient } from '../../shared/api/datasphere-client.ts';
import { createHttpTransport } from '../../shared/api/http-transport.ts';
import { staticTokenSource } from '../../shared/api/token-source.ts';
import { createDispatcher } from '../../shared/api/undici-dispatcher.ts';
import { postOnce } from '../../shared/notify/http-attempt.ts';

/**
 * A warm Cloud Functions instance is frozen between invocations while its event loop waits for work; the
 * servers it keeps sockets to close them meanwhile. On thaw, one poll of the loop returns everything that
 * piled up: the servers' FINs on the idle sockets and the next invocation. Simulated here: a server in a
 * worker thread (its own event loop, so it runs on) closes idle keep-alive sockets 300 ms after their
 * last answer, without announcing it (no `Keep-Alive: timeout=` hint, as load balancers do); the test
 * blocks its own event loop for 800 ms, during which the worker also posts the "invocation" (at 500 ms);
 * the invocation then sends, in one go, a POST without an Idempotency-Key (one attempt, as the
 * notification senders post) and an Operation-creating POST with one (through the API transport, which
 * would retry it). Both must succeed on their first attempt: the server counts each request once, and
 * the transport never sleeps for a retry.
 *
 * node's http Agent writes the request onto the dead socket at once (ECONNRESET: the key-less POST is
 * lost, the keyed one needs a retry); undici lets the loop read the socket before reusing it.
 */

const SERVER_SOURCE = `
const { createServer } = require('node:http');
const { parentPort } = require('node:worker_threads');
const counts = {};
let connections = 0;
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    counts[req.url] = (counts[req.url] ?? 0) + 1;
    const body = req.url.includes(':execute')
      ? JSON.stringify({ id: 'op-' + counts[req.url], done: false })
      : JSON.stringify({ ok: true });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
// Closes a socket 300 ms after its last answer without announcing it (no Keep-Alive: timeout= hint),
// as load balancers do: node's own keepAliveTimeout would send a hint that clients honour.
server.keepAliveTimeout = 0;
server.on('connection', () => { connections += 1; });
server.on('request', (req, res) => {
  clearTimeout(req.socket.idleTimer);
  res.on('finish', () => {
    clearTimeout(req.socket.idleTimer);
    req.socket.idleTimer = setTimeout(() => req.socket.destroy(), 300);
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (msg) => {
  if (msg === 'counts') parentPort.postMessage({ counts: { ...counts }, connections });
  if (msg && msg.invokeIn) setTimeout(() => parentPort.postMessage({ invoke: true }), msg.invokeIn);
  if (msg === 'close') server.close(() => parentPort.postMessage({ closed: true }));
  if (msg === 'close') server.closeAllConnections();
});
`;

interface ServerCounts {
  counts: Record<string, number>;
  connections: number;
}

function nextMessage<T>(worker: Worker, key: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (msg: Record<string, unknown>) => {
      if (key in msg) {
        worker.off('message', onMessage);
        resolve(msg as T);
      }
    };
    worker.on('message', onMessage);
  });
}

/** Blocks this thread's event loop, as a frozen instance does not run it. */
function freeze(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: no timers, no I/O callbacks
  }
}

describe('frozen instance: keep-alive sockets closed by the server while the event loop stood still', () => {
  let worker: Worker;
  let origin: string;
  let dispatcher: Dispatcher;

  before(async () => {
    worker = new Worker(SERVER_SOURCE, { eval: true });
    const { port } = await nextMessage<{ port: number }>(worker, 'port');
    origin = `http://127.0.0.1:${port}`;
    dispatcher = createDispatcher();
  });

  after(async () => {
    await dispatcher.close();
    const closed = nextMessage(worker, 'closed');
    worker.postMessage('close');
    await closed;
    await worker.terminate();
  });

  it('sends a key-less POST and a keyed POST after the freeze, each once, with no retry', async () => {
    const retries: number[] = [];
    const transport = createHttpTransport({
      dispatcher,
      token: staticTokenSource('t1.frozen-instance-test-token'),
      sleep: async (ms) => {
        retries.push(ms);
      },
    });
    const datasphere = new DataSphereClient({ transport, endpoint: origin });
    const rounds = 3;
    const failures: string[] = [];
    for (let round = 1; round <= rounds; round++) {
      // Two requests at once leave two idle keep-alive sockets behind.
      await Promise.all([
        postOnce(dispatcher, { origin, path: `/warm-a-${round}`, headers: {}, body: '{}', timeoutMs: 5_000 }),
        postOnce(dispatcher, { origin, path: `/warm-b-${round}`, headers: {}, body: '{}', timeoutMs: 5_000 }),
      ]);
      const invocation = nextMessage(worker, 'invoke');
      worker.postMessage({ invokeIn: 500 });
      freeze(800);
      await invocation;
      const [hook, started] = await Promise.all([
        postOnce(dispatcher, {
          origin,
          path: `/hook-${round}`,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ round }),
          timeoutMs: 5_000,
        }),
        datasphere.execute(`p${round}`, { notebookId: 'nb.ipynb' }, { idempotencyKey: `key-${round}` }).then(
          (op) => ({ ok: true as const, id: op.id }),
          (error: unknown) => ({ ok: false as const, error }),
        ),
      ]);
      if (hook.kind !== 'answer' || hook.status !== 200) {
        failures.push(
          `round ${round}: key-less POST ${hook.kind === 'network' ? hook.errorCode : hook.kind}`,
        );
      }
      if (!started.ok) failures.push(`round ${round}: keyed POST ${String(started.error)}`);
    }
    worker.postMessage('counts');
    const seen = await nextMessage<ServerCounts>(worker, 'counts');
    const report = {
      failures,
      retries: retries.length,
      hooks: Array.from({ length: rounds }, (_, i) => seen.counts[`/hook-${i + 1}`] ?? 0),
      executes: Array.from(
        { length: rounds },
        (_, i) => seen.counts[`/datasphere/v2/projects/p${i + 1}:execute`] ?? 0,
      ),
      connections: seen.connections,
    };
    console.log(`frozen instance: ${JSON.stringify(report)}`);
    assert.deepEqual(failures, [], 'every POST after the freeze succeeds on its first attempt');
    assert.equal(report.retries, 0, 'the transport retried nothing');
    assert.deepEqual(report.hooks, [1, 1, 1], 'each key-less POST reached the server exactly once');
    assert.deepEqual(report.executes, [1, 1, 1], 'each keyed POST reached the server exactly once');
    // The server closed the idle sockets each round, so each round connected anew.
    assert.ok(seen.connections >= rounds * 2, `connections: ${seen.connections}`);
  });
});
