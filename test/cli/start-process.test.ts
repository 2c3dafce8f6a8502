import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runChild } from './child-process.ts';

/** `npm start`'s script, run directly: these cases end before anything is built or started. */
const start = (args: string[], env: Record<string, string> = {}) =>
  runChild(process.execPath, ['--import', 'tsx', 'local/start.ts', ...args], env);

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
