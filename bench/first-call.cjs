// The first invocation of a function instance, as the bench measures it: a fresh node process that
// `require`s a BUILT bundle (CommonJS, as Cloud Functions loads it) and calls `handler(event, context)`
// once, with the real call it makes (against the emulator on 127.0.0.1), then exits at once without
// waiting for keep-alive sockets. Run under callgrind for instructions and bare for wall time.
// Usage: node bench/first-call.cjs <bundle> <event.json>
// Prints one line `@@first-call {"loadMs", "doneMs", "ok", "statusCode"?, "body"?, "result"?, "error"?}`; doneMs
// is performance.now() at the end of the call, i.e. ms since the process started (node's own start
// included, which the empty handler's figure cancels out).
'use strict';

const { readFileSync, writeSync } = require('node:fs');
const { resolve } = require('node:path');

const [bundle, eventFile] = process.argv.slice(2);
if (bundle === undefined || eventFile === undefined)
  throw new Error('usage: first-call.cjs <bundle> <event>');
const event = JSON.parse(readFileSync(eventFile, 'utf8'));
const loadStarted = performance.now();
const { handler } = require(resolve(bundle));
const loadMs = performance.now() - loadStarted;
const context = {
  requestId: 'bench-first-call',
  functionName: 'bench',
  token: { access_token: 't1.bench-token', expires_in: 43200, token_type: 'Bearer' },
  getRemainingTimeInMillis: () => 30_000,
};

function finish(answer) {
  writeSync(1, `@@first-call ${JSON.stringify({ loadMs, doneMs: performance.now(), ...answer })}\n`);
  process.exit(0);
}

Promise.resolve()
  .then(() => handler(event, context))
  .then(
    (result) =>
      finish(
        typeof result?.statusCode === 'number'
          ? { ok: true, statusCode: result.statusCode, body: String(result.body ?? '').slice(0, 300) }
          : { ok: true, result: result ?? null },
      ),
    (error) => finish({ ok: false, error: String(error?.message ?? error).split('\n')[0] }),
  );
