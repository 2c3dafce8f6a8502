import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from '../../build.mjs';
import { CLOUD, FOLDER, PROJECT, startCloud, TOKEN } from './deploy-harness.ts';
import type { FakeYandexCloud } from './fake-yandex-cloud.ts';

const repo = join(import.meta.dirname, '..', '..');
const toolDir = join(repo, 'deploy', 'tool');
const work = mkdtempSync(join(tmpdir(), 'deploy-real-plugin-'));
const project = join(work, 'project');

function run(
  command: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const [bin, ...args] = command;
    const child = spawn(bin ?? 'false', args, {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: work, ...env },
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout });
    });
  });
}

describe('npm run deploy with the real Serverless Framework 3.40.0 and plugin 1.7.5 (their network client pointed at the fake)', () => {
  let fake: FakeYandexCloud;
  before(async () => {
    mkdirSync(project, { recursive: true });
    cpSync(join(repo, 'serverless.yaml'), join(project, 'serverless.yaml'));
    await build({ outDir: join(project, 'dist'), quiet: true });
    if (!existsSync(join(toolDir, 'node_modules', 'serverless', 'bin', 'serverless.js'))) {
      const install = await run(['npm', 'ci', '--no-audit', '--no-fund', '--ignore-scripts'], {}, toolDir);
      assert.equal(install.status, 0, install.stdout);
    }
    fake = await startCloud();
  });
  after(async () => {
    await fake?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('deploys, verifies, and a second run changes nothing', async () => {
    const serverless = [
      process.execPath,
      '--require',
      join(import.meta.dirname, 'real-plugin-shim.cjs'),
      join(toolDir, 'node_modules', 'serverless', 'bin', 'serverless.js'),
    ];
    const env = {
      DEPLOY_ROOT: project,
      DEPLOY_API_BASE: fake.url,
      YC_IAM_TOKEN: TOKEN,
      YC_CLOUD_ID: CLOUD,
      YC_FOLDER_ID: FOLDER,
      ALLOWED_PROJECTS: PROJECT,
      SHIM_TOOL_DIR: toolDir,
      SERVERLESS_COMMAND: serverless.join(' '),
    };
    const deploy = [process.execPath, '--import', 'tsx', join(repo, 'deploy', 'deploy.ts')];
    const first = await run(deploy, env, repo);
    assert.equal(first.status, 0, first.stdout);
    // The plugin's own calls, as the real framework and plugin made them, between the deploy's.
    const labels = fake.calls.map((c) => c.label);
    const start = labels.indexOf('containerRegistry.listRegistries');
    assert.ok(start > 0, 'the real plugin ran (it lists container registries)');
    const pluginMutations = fake.calls
      .slice(start)
      .filter((c) => c.mutating)
      .slice(0, 6);
    assert.deepEqual(pluginMutations.map((c) => c.label).sort(), [
      'functions.createFunction',
      'functions.createFunction',
      'functions.createFunction',
      'functions.createVersion',
      'functions.createVersion',
      'functions.createVersion',
    ]);
    for (const call of pluginMutations.filter((c) => c.label === 'functions.createVersion')) {
      const body = call.body as {
        serviceAccountId?: string;
        environment?: Record<string, string>;
        content?: string;
      };
      assert.equal(body.serviceAccountId ?? '', '', 'the plugin version runs as no account');
      assert.ok((body.content ?? '').length > 1000, 'the plugin uploads the zip');
      assert.ok(!('NOTIFY_WEBHOOK_SECRET' in (body.environment ?? {})));
    }
    assert.match(first.stdout, /verified stage prod/);
    const from = fake.calls.length;
    const second = await run(deploy, env, repo);
    assert.equal(second.status, 0, second.stdout);
    assert.deepEqual(
      fake.calls
        .slice(from)
        .filter((c) => c.mutating)
        .map((c) => c.label),
      [],
    );
  });
});
