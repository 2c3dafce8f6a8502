/**
 * `npm run deploy`: one stage of datasphere-runner from nothing to verified (docs/deploy.md).
 *
 *   node --import tsx deploy/deploy.ts [--stage prod] [--gateway] [--verify-only]
 *   node --import tsx deploy/deploy.ts --stage test --remove [--delete-database]
 *
 * Exit codes: 0 deployed and verified (or removed); 1 the deploy or the verification failed;
 * 2 a prerequisite is missing (nothing was changed); 3 a DataSphere project admin must add the
 * functions' account first (nothing fires yet; the command to run is printed).
 *
 * DEPLOY_ROOT names the project to deploy (serverless.yaml, dist/, api-gateway/; default: this
 * repository); DEPLOY_API_BASE sends every Yandex API call to one base URL (the tests' local fake).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Agent } from 'undici';
import { createCloudHttp } from './cloud-http.ts';
import { exchangeOauthToken, resolveCredentials, runYcCli, type YcCredentials } from './credentials.ts';
import type { DeployContext } from './deploy-context.ts';
import { deployStage, type StagePlan, TriggersNotReady } from './deploy-stage.ts';
import { docApiTables } from './docapi-tables.ts';
import { ProjectAccessDenied } from './ensure-project-access.ts';
import { serverlessCommand } from './plugin-runner.ts';
import {
  checkArtifact,
  checkFolder,
  checkFunctionEnvironment,
  type DeploySettings,
  PENDING_RUN_STORE,
  readDeploySettings,
} from './preflight.ts';
import { removeStage } from './remove-stage.ts';
import {
  type FunctionSpec,
  functionSpecs,
  loadServerlessConfig,
  readFunctionSpecs,
  serviceName,
} from './serverless-config.ts';
import { STAGE_PATTERN, stageNames } from './stage-names.ts';
import { verifyStage } from './verify-stage.ts';
import { endpointsAt, YANDEX_ENDPOINTS } from './yandex-endpoints.ts';
import { createYmqAdmin } from './ymq-admin.ts';
import { listZipEntries } from './zip-entries.ts';

const MIN_NODE_MAJOR = 20;

function say(line: string): void {
  process.stdout.write(`deploy: ${line}\n`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      stage: { type: 'string', default: process.env.STAGE ?? 'prod' },
      'verify-only': { type: 'boolean', default: false },
      gateway: { type: 'boolean', default: false },
      remove: { type: 'boolean', default: false },
      'delete-database': { type: 'boolean', default: false },
    },
  });
  const root = process.env.DEPLOY_ROOT?.trim() || join(import.meta.dirname, '..');
  const stage = values.stage;
  const env = process.env;
  const mode = values.remove ? 'remove' : values['verify-only'] ? 'verify' : 'deploy';

  // 1. Everything that can be known before touching the cloud, reported at once.
  const problems: string[] = [];
  if (!STAGE_PATTERN.test(stage)) {
    problems.push(
      `--stage "${stage}": use lower-case letters and digits, starting with a letter (it becomes part of every name)`,
    );
  }
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor < MIN_NODE_MAJOR)
    problems.push(`node ${process.versions.node}: ${MIN_NODE_MAJOR} or newer is needed`);
  const config = loadServerlessConfig(join(root, 'serverless.yaml'));
  const resolve = (runStore: string): FunctionSpec[] =>
    functionSpecs(config, { env: { ...env, RUN_STORE: runStore }, options: { stage } });
  const override = env.RUN_STORE?.trim() || undefined;
  const read = readFunctionSpecs(config, {
    env: { ...env, RUN_STORE: override ?? PENDING_RUN_STORE },
    options: { stage },
  });
  const specs = read.specs;
  problems.push(...read.problems);
  const { settings, problems: settingProblems } = readDeploySettings(env, specs);
  problems.push(...settingProblems);
  const artifactSha256: Record<string, string> = {};
  if (mode !== 'remove') {
    for (const spec of specs) problems.push(...checkFunctionEnvironment(spec, settings));
    for (const spec of specs) {
      const path = join(root, spec.artifact);
      if (!existsSync(path)) {
        problems.push(`${spec.artifact}: missing (run npm run build)`);
        continue;
      }
      try {
        const bytes = readFileSync(path);
        problems.push(...checkArtifact(spec.artifact, statSync(path).size, listZipEntries(bytes)));
        artifactSha256[spec.key] = createHash('sha256').update(bytes).digest('hex');
      } catch (error) {
        problems.push(`${spec.artifact}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  let credentials: YcCredentials | undefined;
  try {
    credentials = await resolveCredentials({ env, runYc: runYcCli, exchangeOauthToken });
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  if (problems.length > 0 || credentials === undefined) {
    say(
      `not ${mode === 'deploy' ? 'deploying' : mode === 'remove' ? 'removing' : 'verifying'}; fix these first:`,
    );
    for (const problem of problems) say(`  - ${problem}`);
    return 2;
  }
  const endpoints = env.DEPLOY_API_BASE ? endpointsAt(env.DEPLOY_API_BASE) : YANDEX_ENDPOINTS;
  const dispatcher = new Agent({ connections: 8 });
  const http = createCloudHttp({ token: credentials.iamToken, dispatcher });
  const folder = await checkFolder(http, endpoints.resourceManager, credentials.folderId);
  if ('problem' in folder) {
    say(`not ${mode === 'deploy' ? 'deploying' : mode}; fix this first:`);
    say(`  - ${folder.problem}`);
    return 2;
  }
  say(
    `stage ${stage}, folder ${folder.name} (${credentials.folderId}); token from ${credentials.tokenSource}`,
  );

  const names = stageNames(serviceName(config), stage);
  const sleep = (ms: number): Promise<void> => delay(ms);
  const ctx: DeployContext = {
    http,
    endpoints,
    wait: { operationEndpoint: endpoints.operation, sleep },
    folderId: credentials.folderId,
    cloudId: credentials.cloudId,
    names,
    log: (line) => say(line),
    sleep,
    now: Date.now,
    ymq: (keys, fresh) =>
      createYmqAdmin({
        endpoint: endpoints.messageQueue,
        keys,
        dispatcher,
        sleep,
        attemptsForNewKey: fresh ? 8 : 1,
      }),
    tables: docApiTables(credentials.iamToken, dispatcher),
    plugin: serverlessCommand({
      root,
      toolDir: join(import.meta.dirname, 'tool'),
      command: env.SERVERLESS_COMMAND?.trim() ? env.SERVERLESS_COMMAND.trim().split(/\s+/) : undefined,
      log: (line) => say(line),
      baseEnv: {
        ...env,
        YC_IAM_TOKEN: credentials.iamToken,
        YC_CLOUD_ID: credentials.cloudId,
        YC_FOLDER_ID: credentials.folderId,
      },
    }),
  };
  const plan = stagePlan(
    settings,
    resolve,
    artifactSha256,
    env,
    values.gateway ? readFileSync(join(root, 'api-gateway', 'openapi.yaml'), 'utf8') : undefined,
  );
  try {
    return await run(mode, ctx, plan, settings, values['delete-database']);
  } finally {
    await dispatcher.close();
  }
}

function stagePlan(
  settings: DeploySettings,
  resolve: (runStore: string) => FunctionSpec[],
  artifactSha256: Record<string, string>,
  env: NodeJS.ProcessEnv,
  gatewaySpecText: string | undefined,
): StagePlan {
  return {
    settings,
    specs: resolve,
    artifactSha256,
    // serverless.yaml reads these through ${env:…}; the deployer's shell may lack RUN_STORE.
    pluginEnv: (runStore) => ({
      RUN_STORE: runStore,
      ...(env.ALLOWED_PROJECTS ? { ALLOWED_PROJECTS: env.ALLOWED_PROJECTS } : {}),
    }),
    gatewaySpecText,
  };
}

async function run(
  mode: 'deploy' | 'verify' | 'remove',
  ctx: DeployContext,
  plan: StagePlan,
  settings: DeploySettings,
  deleteDatabase: boolean,
): Promise<number> {
  if (mode === 'remove') {
    const warnings = await removeStage(ctx, {
      projects: settings.projects,
      projectRole: settings.projectRole,
      deleteDatabase,
    });
    for (const warning of warnings) say(`note: ${warning}`);
    say(`removed stage ${ctx.names.stage}`);
    return 0;
  }
  if (mode === 'deploy') {
    try {
      const report = await deployStage(ctx, plan);
      for (const fn of report.functions) say(`  ${fn.name}  ${fn.id}  version ${fn.versionId}`);
      if (report.gatewayDomain !== undefined) say(`  API gateway: https://${report.gatewayDomain}`);
    } catch (error) {
      if (error instanceof ProjectAccessDenied) {
        say(`STOPPED before any trigger exists: ${error.message}.`);
        say('A project admin runs (then run npm run deploy again):');
        for (const command of error.commands) process.stdout.write(`  ${command}\n`);
        return 3;
      }
      if (error instanceof TriggersNotReady) {
        say('the deployment is NOT healthy:');
        for (const problem of error.problems) say(`  - ${problem}`);
        return 1;
      }
      throw error;
    }
  }
  const problems = await verifyStage(ctx, plan);
  if (problems.length > 0) {
    say(`the deployment is NOT healthy (${problems.length} problem${problems.length === 1 ? '' : 's'}):`);
    for (const problem of problems) say(`  - ${problem}`);
    return 1;
  }
  say(
    `verified stage ${ctx.names.stage}: accounts, project membership, database, queues, secrets, functions, triggers`,
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
