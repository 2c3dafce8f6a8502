// The sweep's latency floor, measured: a bare loop of the same Operation.Get requests the sweep makes,
// against the same emulator, with the sweep's concurrency (32 in flight) on keep-alive sockets, in its
// own node process (the same node as the function). No ledger, no parsing beyond reading the body: what
// is left of the sweep's time over this is the function's own work.
// IPC: {id, origin, ids, concurrency, token} → {id, ms, failures}. Warm the sockets with a first round.
'use strict';

const http = require('node:http');

const agents = new Map();

function get(agent, origin, path, token) {
  return new Promise((resolve) => {
    const request = http.request(
      new URL(path, origin),
      { method: 'GET', agent, headers: { authorization: `Bearer ${token}` } },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode === 200));
        response.on('error', () => resolve(false));
      },
    );
    request.on('error', () => resolve(false));
    request.end();
  });
}

process.on('message', async ({ id, origin, ids, concurrency, token }) => {
  let agent = agents.get(concurrency);
  if (agent === undefined) {
    agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    agents.set(concurrency, agent);
  }
  let next = 0;
  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, ids.length) }, async () => {
      while (next < ids.length) {
        const operationId = ids[next++];
        if (!(await get(agent, origin, `/operations/${encodeURIComponent(operationId)}`, token))) failures++;
      }
    }),
  );
  process.send({ id, ms: performance.now() - started, failures });
});
process.send({ ready: true });
process.on('disconnect', () => process.exit(0));
