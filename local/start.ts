/**
 * `npm start`: the whole chain on one machine with nothing but Node, no cloud account.
 * - the DataSphere emulator (a real HTTP server with the DataSphere + Operation REST surface);
 * - the three BUILT functions, each in its own process, served the way Cloud Functions serves them;
 * - timer triggers for execute (jobs-file tick) and check (sweep), per minute or faster;
 * - Message Queue triggers for execute and cancel (in-memory standard queues);
 * - a webhook receiver that prints the run reports the check function sends;
 * - a front door with the API Gateway's routes, so the CLI works against it as against the cloud.
 *
 * Options: see START_HELP (`npm start -- --help`). Every line of the console carries its time and
 * level; a failure to start (a port in use, a bad setting) is one line naming what to change.
 */
import { createServer, type Server } from 'node:http';
import { join, relative, resolve } from 'node:path';
import { build } from '../build.mjs';
import { loadConfig } from '../shared/config.ts';
import { ConfigError } from '../shared/errors.ts';
import { startEmulator } from './emulator/emulator.ts';
import { LOCAL_KEY_FILE, type LocalApiKey, localApiKey } from './local-api-key.ts';
import { createLocalConsole, type LocalConsole } from './local-console.ts';
import { GATEWAY_ROUTES, ListenError, listenOn, startLocalPlatform } from './platform.ts';
import {
  functionEnvironment,
  parseStartOptions,
  START_HELP,
  type StartOptions,
  StartUsageError,
} from './start-options.ts';

const root = resolve(import.meta.dirname, '..');
const DEFAULT_FRONT_DOOR_PORT = 8080;

/** A path inside the checkout relative to it, any other absolute. */
function shortPath(path: string): string {
  const inside = relative(root, resolve(path));
  return inside.startsWith('..') || inside === '' ? resolve(path) : inside;
}

/** Stops with one line on stderr: no stack trace for a mistake a person can fix. */
function fail(message: string, code: number): never {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(code);
}

/** A port already taken, before anything is built: one line naming the option that changes it. */
async function ensureFree(port: number, option: string, what: string): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  try {
    await listenOn(probe, port);
  } catch (error) {
    if (error instanceof ListenError) fail(portProblem(error, option, what), 1);
    throw error;
  } finally {
    probe.close();
  }
}

function portProblem(error: ListenError, option: string, what: string): string {
  const why =
    error.code === 'EADDRINUSE'
      ? 'is in use'
      : error.code === 'EACCES'
        ? 'is not allowed for this user'
        : `cannot be used (${error.code})`;
  return `port ${error.port} (${what}) ${why}; choose another with ${option} N, e.g. npm start -- ${option} ${error.port + 1}`;
}

function startWebhookReceiver(say: LocalConsole['say']): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const report = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          deliveryId?: string;
          run?: Record<string, unknown>;
        };
        const run = report.run ?? {};
        say('info', 'webhook', 'run report received', {
          runId: run.runId,
          status: run.status,
          deliveryId: report.deliveryId,
        });
      } catch {
        say('warn', 'webhook', 'received a report that is not JSON');
      }
      res.writeHead(204).end();
    });
  });
}

/** Where the expected key comes from (the key itself is printed once, in the lines to paste). */
function credentialsNote(apiKey: LocalApiKey, stateDir: string): string {
  const file = shortPath(join(stateDir, LOCAL_KEY_FILE));
  const where = {
    API_KEYS: 'the keys of API_KEYS',
    environment: 'the API key in DATASPHERE_RUNNER_API_KEY',
    'state dir': `the API key kept in ${file}`,
    new: `a new API key, kept in ${file}`,
  }[apiKey.source];
  return `the /runs routes need credentials: ${where}, or an IAM token (the emulator reads any token)`;
}

/** The lines that show how to use the running chain, ready to paste into another terminal. */
function usageLines(
  url: string,
  options: StartOptions,
  env: Record<string, string>,
  apiKey: LocalApiKey,
): string[] {
  const allowed = env.ALLOWED_PROJECTS ?? '*';
  const project = allowed === '*' ? 'demo-project' : (allowed.split(',')[0]?.trim() ?? 'demo-project');
  const cli = 'npx datasphere-runner';
  return [
    '',
    'Try it from another terminal (the CLI: npx datasphere-runner --help):',
    ...(options.port === DEFAULT_FRONT_DOOR_PORT ? [] : [`  export DATASPHERE_RUNNER_URL=${url}`]),
    // The /runs… routes need credentials here as through the API Gateway (docs/auth.md).
    apiKey.key === undefined
      ? '  export DATASPHERE_RUNNER_API_KEY=<one of your API_KEYS>   # the /runs routes need credentials'
      : `  export DATASPHERE_RUNNER_API_KEY=${apiKey.key}   # the /runs routes need credentials`,
    `  ${cli} run --project ${project} --notebook /home/jupyter/datasphere/project/daily_report.ipynb --wait`,
    `  ${cli} run --project ${project} --notebook nb.ipynb --var EMULATOR_OUTCOME=ERROR --wait   # a run that fails`,
    `  ${cli} run --project ${project} --notebook nb.ipynb      # then: ${cli} watch <runId> / cancel <runId>`,
    `  ${cli} list`,
    // The other terminal does not have this process's JOBS_FILE: name the file the timers run.
    process.env.JOBS_FILE === undefined
      ? `  ${cli} jobs`
      : `  ${cli} jobs --file ${shortPath(process.env.JOBS_FILE)}`,
    `  curl -s -X POST ${url}/queues/execute -d '{"projectId":"${project}","notebookId":"nb.ipynb"}'   # through the queue`,
    '',
  ];
}

async function main(): Promise<void> {
  let options: StartOptions;
  try {
    options = parseStartOptions(process.argv.slice(2), process.cwd());
  } catch (error) {
    if (error instanceof StartUsageError) fail(error.message, 2);
    throw error;
  }
  if (options.help) {
    process.stdout.write(START_HELP);
    return;
  }
  const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
  const log = createLocalConsole({ level: options.logLevel, colour, write: (line) => console.log(line) });

  await ensureFree(options.port, '--port', 'the front door');
  await ensureFree(options.emulatorPort, '--emulator-port', 'the DataSphere emulator');

  // The key the front door's /runs routes expect; the functions get its hash line as API_KEYS.
  const apiKey = localApiKey(options.stateDir, process.env);
  const startEnv = apiKey.apiKeys === undefined ? process.env : { ...process.env, API_KEYS: apiKey.apiKeys };

  // Settings are checked here, before anything starts, exactly as a function would at cold start.
  const webhook = startWebhookReceiver(log.say);
  const webhookPort = await listenOn(webhook, 0);
  const probeEnv = functionEnvironment(
    options,
    {
      emulatorUrl: `http://127.0.0.1:${options.emulatorPort}`,
      webhookUrl: `http://127.0.0.1:${webhookPort}/reports`,
    },
    startEnv,
  );
  try {
    loadConfig(probeEnv.env);
  } catch (error) {
    if (error instanceof ConfigError) fail(`invalid setting: ${error.message}`, 2);
    throw error;
  }

  const demoJobs = process.env.JOBS_FILE === undefined || process.env.JOBS_FILE.trim() === '';
  if (demoJobs) process.env.JOBS_FILE = join(root, 'local', 'demo-jobs.yaml');
  const distDir = join(options.stateDir, 'dist');
  let built: { fn: string; bytes: number }[];
  try {
    built = await build({ outDir: distDir, quiet: true });
  } catch (error) {
    fail((error as Error).message.replace(/\n/g, '\n  '), 2);
  }
  log.say(
    'info',
    'local',
    `built ${built.map((b) => `${b.fn} ${(b.bytes / 1024).toFixed(0)} KB`).join(', ')} into ${shortPath(distDir)}`,
    { jobsFile: shortPath(process.env.JOBS_FILE ?? '') },
  );

  let emulator: Awaited<ReturnType<typeof startEmulator>>;
  try {
    emulator = await startEmulator({
      port: options.emulatorPort,
      durationMs: options.runSeconds * 1000,
      log: (line) => log.emulatorLine(line),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined) {
      fail(
        portProblem(
          new ListenError(code, options.emulatorPort, error),
          '--emulator-port',
          'the DataSphere emulator',
        ),
        1,
      );
    }
    throw error;
  }
  log.say(
    'info',
    'local',
    `DataSphere emulator on ${emulator.url} (an emulated run takes ${options.runSeconds} s)`,
  );

  const { env, fromEnvironment } = functionEnvironment(
    options,
    { emulatorUrl: emulator.url, webhookUrl: `http://127.0.0.1:${webhookPort}/reports` },
    startEnv,
  );
  let platform: Awaited<ReturnType<typeof startLocalPlatform>>;
  try {
    platform = await startLocalPlatform({
      distDir,
      port: options.port,
      timerMs: options.tickSeconds * 1000,
      env,
      onLine: (source, line) => log.functionLine(source, line),
      onQueued: (queue, messageId, body) => log.queued(queue, messageId, body),
    });
  } catch (error) {
    await emulator.close();
    webhook.close();
    if (error instanceof ListenError) fail(portProblem(error, '--port', 'the front door'), 1);
    throw error;
  }

  log.say('info', 'local', `front door on ${platform.url}: ${GATEWAY_ROUTES.join(', ')}`);
  log.say('info', 'local', `web console on ${platform.url}/ (open it in a browser)`);
  log.say(
    'info',
    'local',
    `timers every ${options.tickSeconds} s; ledger ${env.RUN_STORE}; ALLOWED_PROJECTS=${env.ALLOWED_PROJECTS}`,
    fromEnvironment.length === 0 ? {} : { fromEnvironment: fromEnvironment.join(',') },
  );
  log.say('info', 'local', credentialsNote(apiKey, options.stateDir));
  for (const line of usageLines(platform.url, options, env, apiKey)) console.log(line);
  const jobsNote = demoJobs
    ? 'the demo job (local/demo-jobs.yaml) starts a run every two minutes, and a chained job after each success; '
    : '';
  log.say('info', 'local', `${jobsNote}Ctrl-C stops everything`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    log.say('info', 'local', 'stopping');
    await platform.close();
    await emulator.close();
    webhook.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  await platform.tick();
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  // A bug, not a setting: the stack helps, but only when asked for.
  if (process.argv.includes('--verbose') || process.argv.includes('-v')) console.error(error);
  fail(`failed: ${message}`, 1);
});
