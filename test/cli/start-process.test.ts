import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const root = join(import.meta.dirname, '..', '..');

/** `npm start`'s script, run directly: these cases end before anything is built or started. */
async function start(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts', ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

describe('npm start (local/start.ts) before it starts anything', () => {
  it('--help prints the options and the settings it takes from the environment (exit 0)', async () => {
    const result = await start(['--help']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Usage: npm start -- \[options\]/);
    for (const option of [
      '--port',
      '--emulator-port',
      '--tick-seconds',
      '--run-seconds',
      '--log-level',
      '--verbose',
    ]) {
      assert.ok(result.stdout.includes(option), option);
    }
    assert.match(result.stdout, /ALLOWED_PROJECTS=demo-project npm start/);
  });

  it('a wrong option or a bad setting is one line on stderr and exit 2, no stack trace', async () => {
    const option = await start(['--tick-seconds', 'fast']);
    assert.equal(option.code, 2);
    assert.equal(
      option.stderr,
      'npm start: --tick-seconds: "fast" must be a number of seconds from 0.2 to 86400\n',
    );
    const setting = await start(['--port', '0', '--emulator-port', '0'], {
      ALLOWED_PROJECTS: 'good,not allowed!',
    });
    assert.equal(setting.code, 2);
    assert.equal(
      setting.stderr,
      'npm start: invalid setting: ALLOWED_PROJECTS: "not allowed!" is not a project id (or use * for any)\n',
    );
  });
});
