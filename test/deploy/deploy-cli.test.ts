import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from '../../build.mjs';
import { CLOUD, FOLDER, PROJECT, startCloud, TOKEN } from './deploy-harness.ts';
import type { FakeYandexCloud } from './fake-yandex-cloud.ts';

const repo = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'deploy-cli-'));
const project = join(work, 'project');
const home = join(work, 'home');
// tsx by URL: the command runs in the project directory, where `tsx` does not resolve.
const PLUGIN = `${process.execPath} --import ${import.meta.resolve('tsx')} ${join(import.meta.dirname, 'fake-serverless-plugin.ts')}`;

/** Runs `npm run deploy`'s script (deploy/deploy.ts) with only `env`: no yc on PATH, an empty HOME. */
function deploy(
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'deploy', 'deploy.ts'), ...args], {
      cwd: repo,
      env: { PATH: dirname(process.execPath), HOME: home, DEPLOY_ROOT: project, ...env },
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout });
    });
  });
}

describe('npm run deploy (the command)', () => {
  let fake: FakeYandexCloud;
  let cloudEnv: Record<string, string>;
  before(async () => {
    mkdirSync(home, { recursive: true });
    mkdirSync(project, { recursive: true });
    cpSync(join(repo, 'serverless.yaml'), join(project, 'serverless.yaml'));
    cpSync(join(repo, 'api-gateway'), join(project, 'api-gateway'), { recursive: true });
    await build({ outDir: join(project, 'dist'), quiet: true });
    fake = await startCloud();
    cloudEnv = {
      DEPLOY_API_BASE: fake.url,
      YC_IAM_TOKEN: TOKEN,
      YC_CLOUD_ID: CLOUD,
      YC_FOLDER_ID: FOLDER,
      SERVERLESS_COMMAND: PLUGIN,
    };
  });
  after(async () => {
    await fake.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('lists every missing prerequisite at once and touches nothing', async () => {
    const { status, stdout } = await deploy(['--projects', 'bt1x'], {
      DEPLOY_API_BASE: fake.url,
      LOG_LEVEL: 'loud',
      METRICS: 'sometimes',
      API_KEYS: `ci:${'a'.repeat(64)}:*;ci:${'b'.repeat(64)}:*;broken`,
    });
    assert.equal(status, 2, stdout);
    assert.match(stdout, /not deploying; fix these first/);
    assert.match(stdout, /ALLOWED_PROJECTS: required/);
    assert.match(stdout, /LOG_LEVEL/);
    assert.match(stdout, /METRICS: "sometimes" must be on or off/);
    assert.match(stdout, /API_KEYS: entry 2: the name ci is used twice \(entry 1\)/);
    assert.match(stdout, /API_KEYS: entry 3 must be <name>:<sha256 hex>:<projects or \*>/);
    assert.match(stdout, /--projects goes with --api-key <name>/);
    assert.match(stdout, /credentials are incomplete; missing a token/);
    assert.equal(fake.calls.length, 0);
  });

  it('refuses a stage that cannot be part of a name', async () => {
    const { status, stdout } = await deploy(['--stage', 'Prod_1'], {
      ...cloudEnv,
      ALLOWED_PROJECTS: PROJECT,
    });
    assert.equal(status, 2, stdout);
    assert.match(stdout, /--stage "Prod_1": use lower-case letters and digits/);
  });

  it('catches a wrong token with one cheap read, before anything changes, and never prints it', async () => {
    const wrong = 't1.wrong-token-that-must-not-be-printed';
    const from = fake.calls.length;
    const { status, stdout } = await deploy([], {
      ...cloudEnv,
      YC_IAM_TOKEN: wrong,
      ALLOWED_PROJECTS: PROJECT,
    });
    assert.equal(status, 2, stdout);
    assert.match(stdout, /the token was refused/);
    assert.equal(fake.calls.length - from, 1);
    assert.ok(!stdout.includes(wrong));
  });

  it('deploys from nothing with one command, then a second run changes nothing', async () => {
    const env = { ...cloudEnv, ALLOWED_PROJECTS: PROJECT };
    const first = await deploy(['--gateway', '--api-key', 'ci', '--projects', PROJECT], env);
    assert.equal(first.status, 0, first.stdout);
    assert.match(first.stdout, /verified stage prod/);
    assert.match(first.stdout, /API gateway: https:\/\/\S+\.apigw\.yandexcloud\.net/);
    assert.match(first.stdout, /GET \/runs without credentials is refused \(401 UNAUTHENTICATED\)/);
    assert.match(first.stdout, /monitoring: created dashboard "datasphere-runner"/);
    assert.match(first.stdout, /note: no alerts: set MONITORING_CHANNEL_ID/);
    assert.ok(!first.stdout.includes(TOKEN));
    // The minted key: printed once, and it is the key whose hash each function holds.
    const keys = first.stdout.match(/dsr_[A-Za-z0-9_-]{43}/g) ?? [];
    assert.equal(keys.length, 1, first.stdout);
    assert.match(first.stdout, /API key "ci" \(shown ONCE/);
    const check = fake.state.functions.find((f) => f.name === 'datasphere-runner-prod-check');
    const version = fake.state.versions.find((v) => v.functionId === check?.id && v.tags.includes('$latest'));
    const hash = createHash('sha256')
      .update(keys[0] ?? '')
      .digest('hex');
    assert.equal(
      (version?.body.environment as Record<string, string> | undefined)?.API_KEYS,
      `ci:${hash}:${PROJECT}`,
    );
    const from = fake.calls.length;
    const second = await deploy(['--gateway'], env);
    assert.equal(second.status, 0, second.stdout);
    assert.doesNotMatch(second.stdout, /dsr_/);
    assert.deepEqual(
      fake.calls
        .slice(from)
        .filter((c) => c.mutating)
        .map((c) => c.label),
      [],
    );
    const verify = await deploy(['--verify-only', '--gateway'], env);
    assert.equal(verify.status, 0, verify.stdout);
  });

  it('--verify-only fails loudly, naming what is missing, and changes nothing', async () => {
    const sweep = fake.state.triggers.find((t) => t.name === 'datasphere-runner-prod-sweep');
    assert.ok(sweep);
    fake.state.triggers.splice(fake.state.triggers.indexOf(sweep), 1);
    const from = fake.calls.length;
    const { status, stdout } = await deploy(['--verify-only'], { ...cloudEnv, ALLOWED_PROJECTS: PROJECT });
    assert.equal(status, 1, stdout);
    assert.match(stdout, /the deployment is NOT healthy \(1 problem\)/);
    assert.match(stdout, /trigger datasphere-runner-prod-sweep: missing/);
    assert.deepEqual(
      fake.calls.slice(from).filter((c) => c.mutating),
      [],
    );
  });

  it('exits 3 with the project admin command when the deployer may not add members', async () => {
    fake.setDeployerIsProjectAdmin(false);
    try {
      const { status, stdout } = await deploy(['--stage', 'test'], {
        ...cloudEnv,
        ALLOWED_PROJECTS: `${PROJECT},bt1fakeproject000002`,
      });
      assert.equal(status, 3, stdout);
      assert.match(stdout, /STOPPED before any trigger exists/);
      assert.equal((stdout.match(/^ {2}curl -sS -X PATCH/gm) ?? []).length, 2, stdout);
      assert.ok(!fake.state.functions.some((f) => f.name.startsWith('datasphere-runner-test-')));
    } finally {
      fake.setDeployerIsProjectAdmin(true);
    }
  });
});
