import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LOCAL_KEY_FILE, localApiKey } from '../../local/local-api-key.ts';
import { findApiKey, parseApiKeys } from '../../shared/auth/api-keys.ts';

describe('the API key of npm start (local/local-api-key.ts)', () => {
  it('makes a key once, keeps it in the state dir (owner only), and gives the functions only its hash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'local-key-'));
    try {
      const first = localApiKey(join(dir, 'state'), {});
      assert.equal(first.source, 'new');
      assert.ok(first.key?.startsWith('dsr_'));
      const file = join(dir, 'state', LOCAL_KEY_FILE);
      assert.equal(readFileSync(file, 'utf8').trim(), first.key);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.ok(!first.apiKeys?.includes(first.key ?? '-'));
      assert.equal(findApiKey(parseApiKeys(first.apiKeys), first.key ?? '')?.name, 'local');
      const again = localApiKey(join(dir, 'state'), {});
      assert.deepEqual(again, { ...first, source: 'state dir' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses DATASPHERE_RUNNER_API_KEY when set, and makes none when API_KEYS is set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'local-key-'));
    try {
      const exported = 'dsr_fake-exported-key-0000000000000000000';
      const fromEnv = localApiKey(dir, { DATASPHERE_RUNNER_API_KEY: exported });
      assert.equal(fromEnv.source, 'environment');
      assert.equal(fromEnv.key, exported);
      assert.deepEqual(localApiKey(dir, { API_KEYS: 'ci:abc:*' }), {
        key: undefined,
        apiKeys: undefined,
        source: 'API_KEYS',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
