/**
 * Stands in for `serverless deploy` with @yandex-cloud/serverless-plugin 1.7.5 against the local
 * fake, making the calls that version makes for this repository's serverless.yaml (read from its
 * source, src/deploy/deploy.ts, src/entities/function.ts, src/provider/provider.ts @v1.7.5, and
 * compared with what the real framework and plugin record in deploy-real-plugin.test.ts): list
 * the folder's functions, triggers and service accounts; delete the triggers named
 * `<function>-<cron|s3|ymq|cr|yds>` that serverless.yaml does not declare; create each missing
 * function; create a version of each function from its zip (`content`), with the environment of
 * serverless.yaml and no account (none is declared). Like the real one it "succeeds" even when a
 * call fails: it logs and carries on.
 *
 * Run as a command (the CLI test's SERVERLESS_COMMAND): `node --import tsx <this file> deploy --stage <s>`
 * with DEPLOY_API_BASE, YC_IAM_TOKEN and YC_FOLDER_ID in the environment.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import type { PluginRunner } from '../../deploy/plugin-runner.ts';
import { functionSpecs, loadServerlessConfig, serviceName } from '../../deploy/serverless-config.ts';

const repositoryRoot = join(import.meta.dirname, '..', '..');
const TRIGGER_TYPES = ['cron', 's3', 'ymq', 'cr', 'yds'];

export interface FakePluginOptions {
  readonly base: string;
  readonly token: string;
  readonly folderId: string;
  /** Zip bytes per function key; default: the file serverless.yaml names. */
  readonly artifacts?: Readonly<Record<string, Buffer>>;
  /** Functions whose version creation "fails" (logged, exit 0, as the plugin does). */
  readonly failFor?: () => readonly string[];
  /** Where serverless.yaml and dist/ are (default: this repository). */
  readonly root?: string;
  /** The environment `serverless` would see besides what the deploy adds (default: process.env). */
  readonly baseEnv?: Readonly<Record<string, string | undefined>>;
}

async function call(
  options: FakePluginOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const response = await request(`${options.base}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer = (await response.body.json()) as Record<string, unknown>;
  if (response.statusCode !== 200)
    throw new Error(`${method} ${path}: ${response.statusCode} ${String(answer.message)}`);
  // The SDK waits for each operation; the fake's operations finish when read.
  if (typeof answer.id === 'string' && 'done' in answer && answer.done !== true) {
    return (await call(options, 'GET', `/operations/${answer.id}`)).response as Record<string, unknown>;
  }
  return 'done' in answer ? ((answer.response ?? {}) as Record<string, unknown>) : answer;
}

export async function runFakePlugin(
  options: FakePluginOptions,
  stage: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string[]> {
  const log: string[] = [];
  const root = options.root ?? repositoryRoot;
  const config = loadServerlessConfig(join(root, 'serverless.yaml'));
  const specs = functionSpecs(config, { env, options: { stage } });
  const prefix = `${serviceName(config)}-${stage}`;
  const folder = encodeURIComponent(options.folderId);
  const functions = (await call(options, 'GET', `/functions/v1/functions?folderId=${folder}`)).functions as {
    id: string;
    name: string;
  }[];
  const triggers = (await call(options, 'GET', `/triggers/v1/triggers?folderId=${folder}`)).triggers as {
    id: string;
    name: string;
  }[];
  // The plugin reads the folder's roles and the accounts, and lists container registries.
  await call(options, 'GET', `/resource-manager/v1/folders/${folder}:listAccessBindings`);
  await call(options, 'GET', `/iam/v1/serviceAccounts?folderId=${folder}`);
  await call(options, 'GET', `/container-registry/v1/registries?folderId=${folder}`);
  for (const trigger of triggers) {
    if (specs.some((s) => TRIGGER_TYPES.some((t) => trigger.name === `${prefix}-${s.key}-${t}`))) {
      await call(options, 'DELETE', `/triggers/v1/triggers/${trigger.id}`);
      log.push(`Trigger removed "${trigger.name}"`);
    }
  }
  for (const spec of specs) {
    const name = `${prefix}-${spec.key}`;
    try {
      let id = functions.find((f) => f.name === name)?.id;
      if (id === undefined)
        id = String(
          (await call(options, 'POST', '/functions/v1/functions', { name, folderId: options.folderId })).id,
        );
      if (options.failFor?.().includes(spec.key)) throw new Error('Request failed: simulated');
      const content = options.artifacts?.[spec.key] ?? readFileSync(join(root, spec.artifact));
      await call(options, 'POST', '/functions/v1/versions', {
        functionId: id,
        runtime: spec.runtime,
        entrypoint: spec.entrypoint,
        resources: { memory: String(spec.memoryMb * 1024 * 1024) },
        executionTimeout: `${spec.timeoutSeconds}s`,
        environment: spec.environment,
        content: content.toString('base64'),
      });
      log.push(`Function updated ${name}`);
    } catch (error) {
      // The plugin's deploy hook catches and logs: `serverless deploy` still exits 0.
      log.push(`error: ${error instanceof Error ? error.message : String(error)}`);
      break;
    }
  }
  return log;
}

/** A PluginRunner for in-process tests; records each run. */
export function fakePluginRunner(
  options: FakePluginOptions,
): PluginRunner & { runs: { stage: string; log: string[] }[] } {
  const runs: { stage: string; log: string[] }[] = [];
  return {
    runs,
    async deploy(stage, env) {
      runs.push({
        stage,
        log: await runFakePlugin(options, stage, { ...(options.baseEnv ?? process.env), ...env }),
      });
    },
  };
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const stage = process.argv[process.argv.indexOf('--stage') + 1] ?? 'dev';
  runFakePlugin(
    {
      base: String(process.env.DEPLOY_API_BASE),
      token: String(process.env.YC_IAM_TOKEN),
      folderId: String(process.env.YC_FOLDER_ID),
      root: process.cwd(),
    },
    stage,
    process.env,
  ).then(
    (log) => {
      for (const line of log) process.stdout.write(`serverless: ${line}\n`);
    },
    (error: unknown) => {
      process.stdout.write(`serverless: error: ${String(error)}\n`);
    },
  );
}
