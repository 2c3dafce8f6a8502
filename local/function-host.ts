/**
 * One function instance, the way Cloud Functions runs it: a process that `require`s a BUILT bundle
 * (CommonJS, `handler` export) once and calls `handler(event, context)` for each invocation, keeping
 * module state between warm invocations. The local platform (platform.ts) talks to it over HTTP:
 * `POST /invoke {event, context}` → `{ok: true, result}` or `{ok: false, errorMessage, errorType}`.
 *
 * Env: FUNCTION_BUNDLE (path to dist/<fn>/index.js), FUNCTION_NAME, FUNCTION_TIMEOUT_MS; the rest of
 * the environment is the function's own (as set in serverless.yaml in the cloud).
 * The first stdout line is `@@function-host {"port": N}`; everything else on stdout is the function's log.
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const bundle = process.env.FUNCTION_BUNDLE;
if (bundle === undefined) throw new Error('FUNCTION_BUNDLE is required');
const functionName = process.env.FUNCTION_NAME ?? 'function';
const timeoutMs = Number(process.env.FUNCTION_TIMEOUT_MS ?? 60_000);

const load = createRequire(import.meta.url);
const mod = load(resolve(bundle)) as { handler?: (event: unknown, context: unknown) => unknown };
if (typeof mod.handler !== 'function') throw new Error(`${bundle} does not export handler`);
const handler = mod.handler;

interface InvokeRequest {
  event: unknown;
  context?: { requestId?: string; token?: { access_token: string; expires_in: number; token_type: string } };
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', async () => {
    if (req.method !== 'POST' || req.url !== '/invoke') {
      res.writeHead(404).end();
      return;
    }
    const { event, context = {} } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as InvokeRequest;
    const started = Date.now();
    const ctx = {
      functionName,
      functionVersion: 'local',
      memoryLimitInMB: '128',
      requestId: context.requestId ?? crypto.randomUUID(),
      ...(context.token === undefined ? {} : { token: context.token }),
      getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
      getPayload: () => event,
    };
    let answer: unknown;
    try {
      answer = { ok: true, result: (await handler(event, ctx)) ?? null };
    } catch (error) {
      const e = error as Error;
      answer = { ok: false, errorMessage: e?.message ?? String(error), errorType: e?.name ?? 'Error' };
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`@@function-host ${JSON.stringify({ port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
