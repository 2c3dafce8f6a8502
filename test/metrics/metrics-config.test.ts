import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../shared/config.ts';
import { ConfigError } from '../../shared/errors.ts';

const BASE = { RUN_STORE: 'file:/tmp/metrics-config-test' };

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ ...BASE, ...env });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail('expected a ConfigError');
}

describe('metrics configuration', () => {
  it('is off without METRICS_FOLDER_ID', () => {
    assert.equal(loadConfig(BASE).metrics, undefined);
    assert.equal(loadConfig({ ...BASE, MONITORING_ENDPOINT: 'http://127.0.0.1:1' }).metrics, undefined);
  });

  it('defaults to the public endpoint and a 3 s bound', () => {
    assert.deepEqual(loadConfig({ ...BASE, METRICS_FOLDER_ID: 'b1g0000folder' }).metrics, {
      folderId: 'b1g0000folder',
      endpoint: 'https://monitoring.api.cloud.yandex.net',
      timeoutMs: 3000,
    });
  });

  it('takes a local endpoint (the tests’ fake) and a shorter bound', () => {
    assert.deepEqual(
      loadConfig({
        ...BASE,
        METRICS_FOLDER_ID: 'b1g0000folder',
        MONITORING_ENDPOINT: 'http://127.0.0.1:4567/',
        METRICS_TIMEOUT_MS: '250',
      }).metrics,
      { folderId: 'b1g0000folder', endpoint: 'http://127.0.0.1:4567', timeoutMs: 250 },
    );
  });

  for (const [env, variable, pattern] of [
    [{ METRICS_FOLDER_ID: 'folder id with spaces' }, 'METRICS_FOLDER_ID', /is not a folder id/],
    [{ METRICS_FOLDER_ID: 'x'.repeat(51) }, 'METRICS_FOLDER_ID', /1\.\.50/],
    [{ METRICS_FOLDER_ID: 'b1g', MONITORING_ENDPOINT: 'ftp://x' }, 'MONITORING_ENDPOINT', /http or https/],
    [{ METRICS_FOLDER_ID: 'b1g', METRICS_TIMEOUT_MS: '60000' }, 'METRICS_TIMEOUT_MS', /100\.\.5000/],
    [{ METRICS_FOLDER_ID: 'b1g', METRICS_TIMEOUT_MS: 'soon' }, 'METRICS_TIMEOUT_MS', /whole number/],
  ] as const) {
    it(`refuses ${variable}=${Object.values(env).at(-1)?.slice(0, 20)} naming the variable`, () => {
      const error = configError(env);
      assert.match(error.message, new RegExp(variable));
      assert.match(error.message, pattern);
    });
  }
});
