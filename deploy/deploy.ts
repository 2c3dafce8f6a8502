/**
 * `npm run deploy`: one stage of datasphere-runner from nothing to verified (docs/deploy.md).
 *
 *   node --import tsx deploy/deploy.ts [--stage prod] [--gateway] [--verify-only]
 *        [--api-key NAME --projects P1,P2|'*'] [--revoke-api-key NAME]...
 *   node --import tsx deploy/deploy.ts --stage test --remove [--delete-database]
 *
 * Exit codes: 0 deployed and verified (or removed); 1 the deploy or the verification failed;
 * 2 a prerequisite is missing (nothing was changed); 3 a DataSphere project admin must add the
 * functions' account first (nothing fires yet; the command to run is printed). The dashboard and
 * alerts come after the verification and never change the exit code (the functions do not need them).
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
import { exchangeOauthToken, resolveCredentials, runYcCli, type YcCredentials } from './credentials.ts';
import type { DeployContext } from './deploy-context.ts';
import { DeployInputError, deployStage, type StagePlan, TriggersNotReady } from './deploy-stage.ts';
import { decidedEnv, deployContext, stagePlan } from './deploy-wiring.ts';
import { ensureMonitoring } from './ensure-monitoring.ts';
import { ProjectAccessDenied } from './ensure-project-access.ts';
import { gatewaySecurityProblems } from './gateway-spec.ts';
import { serverlessCommand } from './plugin-runner.ts';
import {
  checkArtifact,
  checkFolder,
  checkFunctionEnvironment,
  type DeploySettings,
  PENDING_FOLDER_ID,
  PENDING_RUN_STORE,
  readDeploySettings,
} from './preflight.ts';
import { removeStage } from './remove-stage.ts';
import { loadServerlessConfig, readFunctionSpecs, serviceName } from './serverless-config.ts';
import { type ApiKeysPlan, keyOptionProblems, type MintedKey } from './stage-api-keys.ts';
import { STAGE_PATTERN, stageNames } from './stage-names.ts';
import { verifyStage } from './verify-stage.ts';
import { endpointsAt, YANDEX_ENDPOINTS } from './yandex-endpoints.ts';
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
      'api-key': { type: 'string' },
      projects: { type: 'string' },
      'revoke-api-key': { type: 'string', multiple: true, default: [] },
    },
  });
  const root = process.env.DEPLOY_ROOT?.trim() || join(import.meta.dirname, '..');
  const stage = values.stage;
  const env = process.env;
  const mode = values.remove ? 'remove' : values['verify-only'] ? 'verify' : 'deploy';
  const metricsOn = (env.METRICS ?? '').trim().toLowerCase() !== 'off';

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
  const override = env.RUN_STORE?.trim() || undefined;
  const read = readFunctionSpecs(config, {
    env: { ...env, ...decidedEnv(override ?? PENDING_RUN_STORE, PENDING_FOLDER_ID, metricsOn) },
    options: { stage },
  });
  const specs = read.specs;
  problems.push(...read.problems);
  const { settings, problems: settingProblems } = readDeploySettings(env, specs);
  problems.push(...settingProblems);
  const keyPlan: Omit<ApiKeysPlan, 'given'> = {
    mint:
      values['api-key'] === undefined
        ? undefined
        : {
            name: values['api-key'],
            projects:
              values.projects?.trim() === '*'
                ? '*'
                : (values.projects ?? '')
                    .split(',')
                    .map((id) => id.trim())
                    .filter((id) => id !== ''),
          },
    revoke: values['revoke-api-key'],
  };
  if (values.projects !== undefined && values['api-key'] === undefined)
    problems.push('--projects goes with --api-key <name>');
  if (values['api-key'] !== undefined && values.projects === undefined)
    problems.push("--api-key needs --projects <ids> (or '*': every project of ALLOWED_PROJECTS)");
  if (mode !== 'deploy' && (values['api-key'] !== undefined || values['revoke-api-key'].length > 0))
    problems.push('--api-key and --revoke-api-key change the stage: not with --verify-only or --remove');
  problems.push(...keyOptionProblems({ ...keyPlan, given: settings.apiKeys }, settings.projects));
  const gatewayPath = join(root, 'api-gateway', 'openapi.yaml');
  const gatewaySpecText = existsSync(gatewayPath) ? readFileSync(gatewayPath, 'utf8') : undefined;
  if (gatewaySpecText === undefined && values.gateway) problems.push(`${gatewayPath}: missing`);
  if (gatewaySpecText !== undefined && mode !== 'remove')
    problems.push(...gatewaySecurityProblems(gatewaySpecText));
  const artifactSha256: Record<string, string> = {};
  if (mode !== 'remove') {
    // A minted key's entry (as long as the real one will be) counts toward the 4 KB like the given
    // ones; the stage's recorded keys are counted again once read (deploy-stage.ts).
    const mintedEntry =
      keyPlan.mint === undefined ? [] : [`${keyPlan.mint.name}:${'0'.repeat(64)}:${values.projects ?? ''}`];
    const managed = [...(settings.apiKeys ?? []), ...mintedEntry];
    for (const spec of specs)
      problems.push(
        ...checkFunctionEnvironment(
          spec,
          settings,
          managed.length === 0 ? {} : { API_KEYS: managed.join(';') },
        ),
      );
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
  const ctx = deployContext({
    token: credentials.iamToken,
    folderId: credentials.folderId,
    cloudId: credentials.cloudId,
    endpoints,
    names: stageNames(serviceName(config), stage),
    dispatcher,
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
    log: (line) => say(line),
    sleep: (ms) => delay(ms),
  });
  const folder = await checkFolder(ctx.http, endpoints.resourceManager, credentials.folderId);
  if ('problem' in folder) {
    say(`not ${mode === 'deploy' ? 'deploying' : mode}; fix this first:`);
    say(`  - ${folder.problem}`);
    return 2;
  }
  say(
    `stage ${stage}, folder ${folder.name} (${credentials.folderId}); token from ${credentials.tokenSource}`,
  );

  const plan: StagePlan = {
    ...stagePlan({
      config,
      env,
      stage,
      folderId: credentials.folderId,
      settings,
      artifactSha256,
      gatewaySpecText,
    }),
    gateway: values.gateway,
    apiKeys: keyPlan,
    onKeyMinted: printKey,
  };
  try {
    return await run(mode, ctx, plan, settings, values['delete-database']);
  } finally {
    await dispatcher.close();
  }
}

/** Shows a minted key: once, when its entry is stored; it is never logged or written anywhere. */
function printKey(minted: MintedKey): void {
  process.stdout.write(
    [
      `deploy: API key "${minted.name}" (shown ONCE; give it to the caller: DATASPHERE_RUNNER_API_KEY, or header X-Api-Key):`,
      `  ${minted.key}`,
      `deploy: its entry (name:sha256:projects) is stored with the stage's keys; the functions get it in this deploy`,
      '',
    ].join('\n'),
  );
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
      if (error instanceof DeployInputError) {
        say('not deploying; fix these first (nothing was changed):');
        for (const problem of error.problems) say(`  - ${problem}`);
        return 2;
      }
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
    `verified stage ${ctx.names.stage}: accounts, project membership, database, queues, secrets, functions, triggers` +
      (settings.metrics ? ', metrics role' : ''),
  );
  if (mode === 'deploy') {
    const monitoring = await ensureMonitoring(ctx, settings);
    for (const note of monitoring.notes) say(`note: ${note}`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
