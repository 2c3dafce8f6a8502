import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emulatorOptionsFromEnv } from '../../local/emulator/env-options.ts';

describe('emulatorOptionsFromEnv', () => {
  it('defaults to 127.0.0.1:8787 and the emulator defaults when nothing is set', () => {
    assert.deepEqual(emulatorOptionsFromEnv({}), { port: 8787, host: '127.0.0.1' });
  });

  it('reads every EMULATOR_ variable it documents', () => {
    const options = emulatorOptionsFromEnv({
      EMULATOR_PORT: '0',
      EMULATOR_HOST: '0.0.0.0',
      EMULATOR_DURATION_MS: '1500',
      EMULATOR_OUTCOME: 'error',
      EMULATOR_TOKEN: 't1.test-token',
      EMULATOR_NOT_FOUND_GETS: '3',
      EMULATOR_ONE_RUN_PER_PROJECT: 'TRUE',
      EMULATOR_OPEN_PATH: 'colon',
      EMULATOR_CANCEL_METHODS: 'POST',
      EMULATOR_OPEN_DURATION_MS: '500',
      EMULATOR_CANCEL_DELAY_MS: '0',
      EMULATOR_MISSING_PROJECTS: 'gone, lost,',
    });
    assert.deepEqual(options, {
      port: 0,
      host: '0.0.0.0',
      durationMs: 1500,
      outcome: 'ERROR',
      token: 't1.test-token',
      notFoundGetsPerOperation: 3,
      oneRunPerProject: true,
      openPath: 'colon',
      cancelMethods: 'post',
      openDurationMs: 500,
      cancelDelayMs: 0,
      missingProjects: ['gone', 'lost'],
    });
  });

  it('names the variable and the expected form when a value is wrong, without echoing the token', () => {
    assert.throws(
      () => emulatorOptionsFromEnv({ EMULATOR_PORT: '70000' }),
      /EMULATOR_PORT must be an integer/,
    );
    assert.throws(() => emulatorOptionsFromEnv({ EMULATOR_DURATION_MS: '1.5s' }), /EMULATOR_DURATION_MS/);
    assert.throws(
      () => emulatorOptionsFromEnv({ EMULATOR_OUTCOME: 'MAYBE' }),
      /EMULATOR_OUTCOME must be one of OK/,
    );
    assert.throws(
      () => emulatorOptionsFromEnv({ EMULATOR_CANCEL_METHODS: 'put' }),
      /EMULATOR_CANCEL_METHODS must be one of get, post, both/,
    );
    assert.throws(
      () => emulatorOptionsFromEnv({ EMULATOR_ONE_RUN_PER_PROJECT: 'yes' }),
      /EMULATOR_ONE_RUN_PER_PROJECT/,
    );
  });
});
