// Loads each BUILT bundle the way Cloud Functions does (require of CommonJS, `handler` export) in a
// fresh process, and feeds it one real-shaped event that needs no network: a malformed request the
// handler must answer itself with a JSON 4xx (no stack trace, no 502).
// Usage: node .ci/smoke-bundles.mjs [node binary...]   (default: this node; .ci/run passes the machine's
// Node 20 and the runtime's 22.15)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = join(root, 'test', 'fixtures', 'events');
const httpFixture = JSON.parse(readFileSync(join(fixtures, 'http-url-json.json'), 'utf8'));

const cases = {
  // A run request for a project that is not allowed: 403 before any API call.
  execute: { event: httpFixture, expect: 403 },
  // A history call (GET naming no run) with a limit out of range: 400 naming the parameter.
  check: {
    event: {
      ...httpFixture,
      httpMethod: 'GET',
      body: '',
      queryStringParameters: { limit: '0' },
      multiValueQueryStringParameters: { limit: ['0'] },
    },
    expect: 400,
  },
  cancel: { event: { ...httpFixture, body: '{}' }, expect: 400 },
};

const nodes = process.argv.length > 2 ? process.argv.slice(2) : [process.execPath];
let failed = 0;
for (const node of nodes) {
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  for (const [fn, { event, expect }] of Object.entries(cases)) {
    const bundle = join(root, 'dist', fn, 'index.js');
    const script = `
    const started = process.hrtime.bigint();
    const mod = require(${JSON.stringify(bundle)});
    const loadMs = Number(process.hrtime.bigint() - started) / 1e6;
    if (typeof mod.handler !== 'function') { console.error('no handler export'); process.exit(2); }
    Promise.resolve(mod.handler(${JSON.stringify(event)}, { requestId: 'smoke', getRemainingTimeInMillis: () => 10000 }))
      .then((r) => { console.log(JSON.stringify({ loadMs, statusCode: r.statusCode, body: r.body })); })
      .catch((e) => { console.error('handler threw: ' + e.message); process.exit(3); });`;
    try {
      const out = execFileSync(node, ['-e', script], {
        env: {
          PATH: process.env.PATH,
          RUN_STORE: `file:${mkdtempSync(join(tmpdir(), 'smoke-'))}`,
          ALLOWED_PROJECTS: 'some-other-project',
          YC_IAM_TOKEN: 'smoke-token',
          LOG_LEVEL: 'error',
        },
        encoding: 'utf8',
      });
      const lastLine = out.trim().split('\n').pop();
      const result = JSON.parse(lastLine);
      const ok = result.statusCode === expect && JSON.parse(result.body).error?.code !== undefined;
      console.log(
        `${ok ? 'ok  ' : 'FAIL'} ${version} ${fn}: loads in ${result.loadMs.toFixed(1)} ms, answers ${result.statusCode} ${result.body}`,
      );
      if (!ok) failed++;
    } catch (error) {
      console.log(`FAIL ${version} ${fn}: ${error.message}`);
      failed++;
    }
  }
}
if (failed > 0) process.exit(1);
