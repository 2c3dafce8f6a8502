import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { request } from 'undici';

const root = join(import.meta.dirname, '..', '..');

describe('npm run emulator (local/emulator/main.ts)', () => {
  it('prints its URL, logs requests without the token, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/emulator/main.ts'], {
      cwd: root,
      env: { ...process.env, EMULATOR_PORT: '0', EMULATOR_DURATION_MS: '10' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        const match = /listening on (http:\/\/\S+)/.exec(stdout);
        if (match?.[1] !== undefined) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`emulator exited early with ${code}`)));
    });
    const response = await request(`${url}/datasphere/v2/projects/p1`, {
      headers: { authorization: 'Bearer t1.test-token', connection: 'close' },
    });
    assert.equal(response.statusCode, 200);
    await response.body.text();
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0);
    assert.match(stdout, /GET \/datasphere\/v2\/projects\/p1 200/);
    assert.ok(!stdout.includes('t1.test-token'));
  });
});
