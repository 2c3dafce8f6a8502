import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';

const root = join(import.meta.dirname, '..', '..');
const home = mkdtempSync(join(tmpdir(), 'deploy-cli-'));

/** Runs deploy/deploy.ts with only `env` (no yc on PATH, an empty HOME): it must stop before the cloud. */
function deploy(args: string[], env: Record<string, string>): { status: number | null; stdout: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'deploy/deploy.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: dirname(process.execPath), HOME: home, ...env },
  });
  return { status: result.status, stdout: result.stdout };
}

describe('npm run deploy, before touching the cloud', () => {
  after(() => rmSync(home, { recursive: true, force: true }));

  it('exits 2 listing every missing prerequisite, and deploys nothing', () => {
    const { status, stdout } = deploy([], { SERVERLESS_COMMAND: 'false-command-that-must-not-run' });
    assert.equal(status, 2, stdout);
    assert.match(stdout, /not deploying; fix these first/);
    assert.match(stdout, /env:RUN_QUEUE_ARN is not set/);
    assert.match(stdout, /env:RUN_STORE is not set/);
    assert.match(stdout, /credentials are incomplete; missing a token/);
    assert.doesNotMatch(stdout, /false-command-that-must-not-run/);
  });

  it('refuses a stage that cannot be part of function names', () => {
    const { status, stdout } = deploy(['--stage', 'Prod_1'], {});
    assert.equal(status, 2);
    assert.match(stdout, /--stage "Prod_1": use lower-case letters and digits/);
  });

  it('never prints the token it was given', () => {
    const token = 't1.test-token-must-not-be-printed';
    const { status, stdout } = deploy([], {
      YC_IAM_TOKEN: token,
      YC_CLOUD_ID: 'b1gfakecloud',
      YC_FOLDER_ID: 'b1gfakefolder',
      RUN_STORE: 'file:/tmp/runs',
      ALLOWED_PROJECTS: '*',
      RUN_QUEUE_ARN: 'yrn:yc:ymq:ru-central1:b1gfakefolder:runs',
      CANCEL_QUEUE_ARN: 'yrn:yc:ymq:ru-central1:b1gfakefolder:cancels',
    });
    assert.equal(status, 2, stdout);
    assert.match(stdout, /token from YC_IAM_TOKEN/);
    assert.match(stdout, /RUN_STORE: a file: store is refused in Cloud Functions/);
    assert.ok(!stdout.includes(token));
  });
});
