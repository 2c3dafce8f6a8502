/**
 * `npm start`: the whole chain on one machine with nothing but Node, no cloud account.
 * - the DataSphere emulator (a real HTTP server with the DataSphere + Operation REST surface);
 * - the three BUILT functions, each in its own process, served the way Cloud Functions serves them;
 * - timer triggers for execute (jobs-file tick) and check (sweep), per minute or faster;
 * - Message Queue triggers for execute and cancel (in-memory standard queues);
 * - a webhook receiver that prints the run reports the check function sends.
 *
 * Options: --tick-seconds N (default 10; 60 is the cloud's cadence), --port N (default 8080),
 * --emulator-port N (default 8787), --run-seconds N (how long an emulated run takes, default 20).
 */
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from '../build.mjs';
import { startEmulator } from './emulator/emulator.ts';
import { startLocalPlatform } from './platform.ts';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    'tick-seconds': { type: 'string', default: '10' },
    port: { type: 'string', default: '8080' },
    'emulator-port': { type: 'string', default: '8787' },
    'run-seconds': { type: 'string', default: '20' },
  },
});
const tickSeconds = Number(values['tick-seconds']);
const port = Number(values.port);
const runSeconds = Number(values['run-seconds']);

const color = (code: number, text: string) => (process.stdout.isTTY ? `\x1b[${code}m${text}\x1b[0m` : text);
const say = (text: string) => console.log(color(36, `[local] ${text}`));

/** Function log lines are JSON: print the interesting part compactly. */
function printLine(source: string, line: string) {
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    if (entry.level === 'DEBUG') return;
    const { level, msg, time: _time, request_id: _rid, run: _run, ...rest } = entry;
    const fields = Object.entries(rest)
      .filter(([, v]) => v !== undefined && typeof v !== 'object')
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const tint = level === 'ERROR' ? 31 : level === 'WARN' ? 33 : 32;
    console.log(`${color(90, source.padEnd(8))} ${color(tint, String(msg))} ${fields}`);
  } catch {
    console.log(`${color(90, source.padEnd(8))} ${line}`);
  }
}

process.env.JOBS_FILE = process.env.JOBS_FILE ?? join(root, 'local', 'demo-jobs.yaml');
const distDir = join(root, '.local', 'dist');
await build({ outDir: distDir });

const emulator = await startEmulator({
  port: Number(values['emulator-port']),
  durationMs: runSeconds * 1000,
  log: (line) => printLine('emulator', line),
});
say(`DataSphere emulator on ${emulator.url}`);

const webhook = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    try {
      const report = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { run?: Record<string, unknown> };
      const run = report.run ?? {};
      console.log(color(35, `[webhook] run report received: ${run.runId} ${run.status} (${run.notebookId})`));
    } catch {
      console.log(color(35, '[webhook] received a report that is not JSON'));
    }
    res.writeHead(204).end();
  });
});
await new Promise<void>((done) => webhook.listen(0, '127.0.0.1', done));
const webhookAddress = webhook.address();
const webhookPort = typeof webhookAddress === 'object' && webhookAddress !== null ? webhookAddress.port : 0;

const runsDir = join(root, '.local', 'runs');
mkdirSync(runsDir, { recursive: true });
const platform = await startLocalPlatform({
  distDir,
  port,
  timerMs: tickSeconds * 1000,
  env: {
    DATASPHERE_ENDPOINT: emulator.url,
    OPERATION_ENDPOINT: emulator.url,
    RUN_STORE: `file:${runsDir}`,
    ALLOWED_PROJECTS: '*',
    // The emulator accepts any bearer token; in the cloud the token comes from the function's service account.
    YC_IAM_TOKEN: 'local-emulator-token',
    CHECK_INTERVAL_SECONDS: String(Math.max(1, Math.min(20, tickSeconds))),
    // First check one tick after the start (75 s in the cloud, where a tick is a minute).
    CHECK_FIRST_DELAY_SECONDS: String(tickSeconds),
    NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${webhookPort}/reports`,
    NOTIFY_WEBHOOK_SECRET: 'local-demo-secret',
    LOG_LEVEL: 'info',
  },
  onLine: printLine,
});

say(`functions on ${platform.url}  (timers every ${tickSeconds} s; ledger in .local/runs)`);
say('start a run:');
console.log(`
  curl -s -X POST ${platform.url}/execute -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-1' \\
       -d '{"projectId":"demo-project","notebookId":"/home/jupyter/datasphere/project/daily_report.ipynb"}'

  curl -s '${platform.url}/check?runId=<runId from the answer>'        # its status
  curl -s -X POST '${platform.url}/cancel?runId=<runId>'               # cancel it
  curl -s -X POST ${platform.url}/queues/execute -d '{"projectId":"demo-project","notebookId":"nb.ipynb"}'  # via the queue
`);
say('a scheduled job (local/demo-jobs.yaml) starts every two minutes; Ctrl-C stops everything');

await platform.tick();
const stop = async () => {
  say('stopping');
  await platform.close();
  await emulator.close();
  webhook.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
