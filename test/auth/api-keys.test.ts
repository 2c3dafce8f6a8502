import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  API_KEY_PREFIX,
  API_KEY_SHAPE,
  apiKeyEntryLine,
  findApiKey,
  hashApiKey,
  mintApiKey,
  parseApiKeys,
} from '../../shared/auth/api-keys.ts';
import { loadConfig } from '../../shared/config.ts';
import { ConfigError } from '../../shared/errors.ts';
import { redactSecrets } from '../../shared/redact.ts';

// Obviously fake keys.
const CI_KEY = 'dsr_fake-ci-key-00000000000000000000000';
const OPS_KEY = 'dsr_fake-ops-key-0000000000000000000000';
const hex = (key: string) => hashApiKey(key).toString('hex');

const configError = (pattern: RegExp) => (error: unknown) =>
  error instanceof ConfigError && error.setting === 'API_KEYS' && pattern.test(error.message);

describe('API_KEYS (shared/auth/api-keys.ts)', () => {
  it('reads name, hash and projects of each entry, separated by ; or new lines', () => {
    const entries = parseApiKeys(`ci:${hex(CI_KEY)}:p1, p2 ;\n ops:${hex(OPS_KEY)}:*`);
    assert.equal(entries.length, 2);
    assert.equal(entries[0]?.name, 'ci');
    assert.deepEqual([...((entries[0]?.projects ?? []) as Set<string>)], ['p1', 'p2']);
    assert.equal(entries[1]?.projects, '*');
    assert.deepEqual(parseApiKeys(undefined), []);
    assert.deepEqual(parseApiKeys('  '), []);
  });

  it('refuses a malformed entry naming it, and never accepts a key in place of its hash', () => {
    assert.throws(
      () => parseApiKeys('ci'),
      configError(/entry 1 must be <name>:<sha256 hex>:<projects or \*>/),
    );
    assert.throws(() => parseApiKeys(`ci:${CI_KEY}:*`), configError(/entry 1 \(ci\): the hash must be 64/));
    assert.throws(() => parseApiKeys(`ci:${hex(CI_KEY).toUpperCase()}:*`), configError(/64 lower-case hex/));
    assert.throws(() => parseApiKeys(`c i:${hex(CI_KEY)}:*`), configError(/name must be/));
    assert.throws(() => parseApiKeys(`ci:${hex(CI_KEY)}:`), configError(/projects must be \*/));
    assert.throws(() => parseApiKeys(`ci:${hex(CI_KEY)}:p 1`), configError(/not "p 1"/));
    assert.throws(
      () => parseApiKeys(`ci:${hex(CI_KEY)}:*;ci:${hex(OPS_KEY)}:*`),
      configError(/entry 2: the name ci is used twice/),
    );
    assert.throws(
      () => parseApiKeys(`ci:${hex(CI_KEY)}:*;ops:${hex(CI_KEY)}:*`),
      configError(/entry 2 \(ops\): the same key is listed twice/),
    );
  });

  it('is read with the rest of the configuration: a bad entry fails loudly at cold start', () => {
    const base = { RUN_STORE: 'file:/tmp/x', ALLOWED_PROJECTS: '*' };
    assert.equal(loadConfig(base).apiKeys.length, 0);
    assert.equal(loadConfig(base).authCacheSeconds, 60);
    assert.equal(loadConfig({ ...base, API_KEYS: `ci:${hex(CI_KEY)}:p1` }).apiKeys[0]?.name, 'ci');
    assert.throws(() => loadConfig({ ...base, API_KEYS: 'nonsense' }), configError(/entry 1/));
    assert.throws(() => loadConfig({ ...base, AUTH_CACHE_SECONDS: '601' }), /AUTH_CACHE_SECONDS/);
  });

  it('finds the entry of a presented key by its hash, and nothing for any other key', () => {
    const entries = parseApiKeys(`ci:${hex(CI_KEY)}:p1;ops:${hex(OPS_KEY)}:*`);
    assert.equal(findApiKey(entries, CI_KEY)?.name, 'ci');
    assert.equal(findApiKey(entries, OPS_KEY)?.name, 'ops');
    assert.equal(findApiKey(entries, `${CI_KEY}x`), undefined);
    assert.equal(findApiKey(entries, hex(CI_KEY)), undefined, 'the hash itself is not a key');
    assert.equal(findApiKey([], CI_KEY), undefined);
  });

  it('mints random prefixed keys that fit the accepted shape, and prints the line that loads', () => {
    const keys = new Set(Array.from({ length: 50 }, () => mintApiKey()));
    assert.equal(keys.size, 50);
    for (const key of keys) {
      assert.ok(key.startsWith(API_KEY_PREFIX));
      assert.match(key, API_KEY_SHAPE);
      assert.equal(key.length, API_KEY_PREFIX.length + 43);
    }
    const key = mintApiKey(() => Buffer.alloc(32, 7));
    const line = apiKeyEntryLine('ci', key, ['p1', 'p2']);
    assert.equal(line, `ci:${hex(key)}:p1,p2`);
    assert.ok(!line.includes(key));
    assert.equal(findApiKey(parseApiKeys(line), key)?.name, 'ci');
    assert.equal(apiKeyEntryLine('ops', key, '*'), `ops:${hex(key)}:*`);
    assert.throws(() => apiKeyEntryLine('bad name', key, '*'), ConfigError);
  });

  it('a minted key is masked by shape in free text, even where no one learned its value', () => {
    const key = mintApiKey();
    assert.equal(redactSecrets(`called with ${key}, refused`), 'called with [REDACTED], refused');
    assert.equal(redactSecrets('X-Api-Key: not a known API key'), 'X-Api-Key: not a known API key');
  });

  it('npm run api-key prints a new key and the entry that accepts it, or one line naming the mistake', () => {
    const run = (...args: string[]) =>
      spawnSync(
        process.execPath,
        ['--import', 'tsx', join(import.meta.dirname, '../../scripts/api-key.ts'), ...args],
        {
          encoding: 'utf8',
        },
      );
    const ok = run('--name', 'ci', '--projects', 'p1, p2');
    assert.equal(ok.status, 0, ok.stderr);
    const [, key, line] = /\n {2}(dsr_\S+)\n[^\n]*\n {2}(\S+)\n/.exec(ok.stdout) ?? [];
    assert.ok(key !== undefined && line !== undefined, ok.stdout);
    assert.deepEqual(
      [...((findApiKey(parseApiKeys(line), key)?.projects as Set<string>) ?? [])],
      ['p1', 'p2'],
    );
    const bad = run('--name', 'b a d', '--projects', '*');
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, 'api-key: name must be 1..40 of A-Z a-z 0-9 _ . -\n');
    assert.equal(run('--name', 'x').status, 2);
  });
});
