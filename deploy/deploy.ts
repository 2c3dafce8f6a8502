/**
 * `npm run deploy` (after `node build.mjs`): checks the prerequisites, runs the Serverless
 * Framework v3 with @yandex-cloud/serverless-plugin, then VERIFIES through the Yandex Cloud API
 * that every function, version and trigger serverless.yaml describes is really there: the plugin
 * exits 0 even when a deploy fails (platform.md §9, trap 4).
 *
 *   node --import tsx deploy/deploy.ts [--stage prod] [--verify-only]
 *
 * The framework is not a dependency of the repository (it is large); it runs through
 *   npx --yes -p serverless@3.40.0 -p @yandex-cloud/serverless-plugin@1.7.5 serverless deploy
 * (the framework finds the plugin beside itself in npx's install). SERVERLESS_COMMAND overrides
 * that command, e.g. `SERVERLESS_COMMAND=serverless` after a one-time global install.
 *
 * Exit codes: 0 deployed and verified; 1 the deploy or the verification failed; 2 a prerequisite
 * is missing (nothing was deployed).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createGetJson, fetchObservedDeployment } from './cloud-api.ts';
import { exchangeOauthToken, resolveCredentials, runYcCli, type YcCredentials } from './credentials.ts';
import type { ExpectedDeployment } from './deployment-model.ts';
import { checkArtifact, checkFunctionEnvironment, checkTriggers } from './preflight.ts';
import { expectedDeployment, functionEnvironments, loadServerlessConfig } from './serverless-config.ts';
import { verifyDeployment } from './verify-deployment.ts';
import { listZipEntries } from './zip-entries.ts';

const SERVERLESS = [
  'npx',
  '--yes',
  '-p',
  'serverless@3.40.0',
  '-p',
  '@yandex-cloud/serverless-plugin@1.7.5',
  'serverless',
];
/** Allowance for the deployer's clock running ahead of the cloud's. */
const CLOCK_SKEW_MS = 2 * 60_000;
const MIN_NODE_MAJOR = 20;

function say(line: string): void {
  process.stdout.write(`deploy: ${line}\n`);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      stage: { type: 'string', default: process.env.STAGE ?? 'prod' },
      'verify-only': { type: 'boolean', default: false },
    },
  });
  const stage = values.stage;
  if (!/^[a-z][a-z0-9]{0,15}$/.test(stage)) {
    say(
      `--stage "${stage}": use lower-case letters and digits (it becomes part of function and trigger names)`,
    );
    return 2;
  }
  const root = join(import.meta.dirname, '..');
  const ctx = { env: process.env, options: { stage } };

  // 1. Prerequisites: everything that can be known before touching the cloud.
  const problems: string[] = [];
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor < MIN_NODE_MAJOR)
    problems.push(`node ${process.versions.node}: ${MIN_NODE_MAJOR} or newer is needed`);
  const config = loadServerlessConfig(join(root, 'serverless.yaml'));
  let expected: ExpectedDeployment | undefined;
  try {
    expected = expectedDeployment(config, ctx);
    problems.push(...checkTriggers(expected.triggers));
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  try {
    for (const [key, environment] of Object.entries(functionEnvironments(config, ctx))) {
      problems.push(...checkFunctionEnvironment(key, environment));
    }
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  for (const fn of Object.values(config.functions as Record<string, { package?: { artifact?: string } }>)) {
    const artifact = fn.package?.artifact;
    if (artifact === undefined) continue;
    const path = join(root, artifact);
    if (!existsSync(path)) {
      problems.push(`${artifact}: missing (run npm run build)`);
      continue;
    }
    try {
      problems.push(...checkArtifact(artifact, statSync(path).size, listZipEntries(readFileSync(path))));
    } catch (error) {
      problems.push(`${artifact}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  let credentials: YcCredentials | undefined;
  try {
    credentials = await resolveCredentials({ env: process.env, runYc: runYcCli, exchangeOauthToken });
    say(
      `folder ${credentials.folderId} in cloud ${credentials.cloudId}; token from ${credentials.tokenSource}`,
    );
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  if (problems.length > 0 || expected === undefined || credentials === undefined) {
    say('not deploying; fix these first:');
    for (const problem of problems) say(`  - ${problem}`);
    return 2;
  }

  // 2. Deploy (its exit code says little: the plugin logs its failures and exits 0).
  const startedAt = new Date(Date.now() - CLOCK_SKEW_MS).toISOString();
  if (!values['verify-only']) {
    const command = process.env.SERVERLESS_COMMAND?.trim().split(/\s+/) ?? SERVERLESS;
    const code = await run([...command, 'deploy', '--stage', stage], root, {
      ...process.env,
      YC_IAM_TOKEN: credentials.iamToken,
      YC_CLOUD_ID: credentials.cloudId,
      YC_FOLDER_ID: credentials.folderId,
      SLS_TELEMETRY_DISABLED: '1',
      SLS_NOTIFICATIONS_MODE: 'off',
    });
    if (code !== 0) {
      say(`serverless deploy exited with ${code}`);
      return 1;
    }
  }

  // 3. Verify what is really there.
  const expectedNow = values['verify-only'] ? expected : { ...expected, notBefore: startedAt };
  const observed = await fetchObservedDeployment(
    createGetJson(credentials.iamToken),
    credentials.folderId,
    expected.functions.map((f) => f.name),
  );
  const found = verifyDeployment(expectedNow, observed);
  if (found.length > 0) {
    say(`the deployment is NOT healthy (${found.length} problem${found.length === 1 ? '' : 's'}):`);
    for (const problem of found) say(`  - ${problem}`);
    return 1;
  }
  say(`verified ${expected.functions.length} functions and ${expected.triggers.length} triggers:`);
  for (const fn of expected.functions) {
    const cloud = observed.functions.find((f) => f.name === fn.name);
    say(`  ${fn.name}  ${cloud?.id ?? ''}  ${cloud?.httpInvokeUrl ?? ''}`);
  }
  say('reminder: the account datasphere-runner-functions must be a member (Developer) of each DataSphere');
  say('project in ALLOWED_PROJECTS; a role change in serverless.yaml recreates the account (new id).');
  return 0;
}

function run(command: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<number> {
  const [bin, ...args] = command;
  return new Promise((resolve) => {
    const child = spawn(bin ?? 'npx', args, { cwd, env, stdio: 'inherit' });
    child.on('error', (error) => {
      say(`cannot run ${bin}: ${error.message} (install Node's npx, or set SERVERLESS_COMMAND)`);
      resolve(127);
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
