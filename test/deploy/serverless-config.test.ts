import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SECRET_VARIABLES } from '../../deploy/function-secrets.ts';
import { BUNDLE_ENTRY } from '../../deploy/preflight.ts';
import { functionSpecs, loadServerlessConfig, resolveValue } from '../../deploy/serverless-config.ts';

const root = join(import.meta.dirname, '..', '..');
const config = loadServerlessConfig(join(root, 'serverless.yaml'));
const rawText = readFileSync(join(root, 'serverless.yaml'), 'utf8');

type Fn = Record<string, unknown> & {
  environment?: Record<string, unknown>;
  package?: Record<string, unknown>;
};
const functions = config.functions as Record<string, Fn>;
const provider = config.provider as Record<string, unknown>;

/** Every setting the functions read (design.md §3), secrets excepted. */
const REQUIRED_ENVIRONMENT = [
  'DATASPHERE_ENDPOINT',
  'OPERATION_ENDPOINT',
  'RUN_STORE',
  'RUN_STORE_TABLE',
  'ALLOWED_PROJECTS',
  'RUN_TIMEOUT_SECONDS',
  'LOG_LEVEL',
];

/** A Serverless variable reference (dollar, braces), written without a template-looking literal. */
const ref = (inner: string): string => ['$', '{', inner, '}'].join('');

const ENV = {
  RUN_STORE: 'docapi:https://docapi.serverless.yandexcloud.net/ru-central1/b1g/etn',
  ALLOWED_PROJECTS: 'bt1fake',
};

describe('serverless.yaml', () => {
  it('targets the nodejs22 runtime on the yandex-cloud provider with the plugin loaded', () => {
    assert.equal(provider.name, 'yandex-cloud');
    assert.equal(provider.runtime, 'nodejs22');
    assert.equal(config.frameworkVersion, '3');
    assert.deepEqual(config.plugins, ['@yandex-cloud/serverless-plugin']);
    assert.notEqual(config.configValidationMode, 'error', 'nodejs22 is not in the plugin enum');
  });

  it('relies on no provider-level memory, timeout or environment (the plugin ignores them)', () => {
    for (const key of ['environment', 'memorySize', 'timeout']) assert.equal(provider[key], undefined, key);
  });

  it('declares the three functions, each with its own memory, timeout, handler and zip', () => {
    const sizes: Record<string, [number, string]> = {
      execute: [128, '60'],
      check: [256, '120'],
      cancel: [128, '30'],
    };
    assert.deepEqual(Object.keys(functions).sort(), ['cancel', 'check', 'execute']);
    assert.equal((config.package as Record<string, unknown>).individually, true);
    for (const [name, fn] of Object.entries(functions)) {
      assert.deepEqual([fn.memorySize, fn.timeout], sizes[name], `${name}: memorySize/timeout`);
      assert.equal(fn.handler, `${BUNDLE_ENTRY.replace(/\.js$/, '')}.handler`);
      assert.deepEqual(fn.package, { artifact: `dist/${name}.zip` });
    }
  });

  it('leaves accounts, triggers, secrets and the gateway to the deploy (the plugin mishandles each)', () => {
    assert.deepEqual(
      config.resources,
      {},
      'no yc::ServiceAccount: the plugin recreates them on a role change',
    );
    assert.equal(provider.httpApi, undefined, 'no second gateway from the plugin');
    for (const [name, fn] of Object.entries(functions)) {
      assert.equal(
        fn.events,
        undefined,
        `${name}: the plugin deletes and recreates every trigger on each run`,
      );
      assert.equal(fn.account, undefined, `${name}: the plugin's version must run as no account`);
    }
  });

  it('gives every function the whole environment the configuration reads, as references, without secrets', () => {
    for (const [name, fn] of Object.entries(functions)) {
      const environment = fn.environment ?? {};
      assert.deepEqual(
        REQUIRED_ENVIRONMENT.filter((key) => !(key in environment)),
        [],
        name,
      );
      for (const [key, value] of Object.entries(environment)) {
        assert.match(String(value), /^\$\{(env|opt):[^}]+\}$/, `${name}.${key} must be a reference`);
        assert.ok(!(key in SECRET_VARIABLES), `${name}.${key} is a secret: it comes from Lockbox`);
      }
    }
    for (const key of ['NOTIFY_WEBHOOK_URL', 'NOTIFY_QUEUE_URL']) {
      assert.ok(key in (functions.check?.environment ?? {}));
      assert.ok(
        !(key in (functions.execute?.environment ?? {})) && !(key in (functions.cancel?.environment ?? {})),
      );
    }
    assert.doesNotMatch(
      rawText,
      /\bt1\.[A-Za-z0-9_-]{20,}|\bAQVN[A-Za-z0-9_-]{20,}|\bYC[A-Za-z0-9_-]{30,}|\by0_[A-Za-z0-9_-]{20,}/,
    );
  });
});

describe('reading serverless.yaml for the deploy', () => {
  it('resolves each function as the plugin will send it', () => {
    const specs = functionSpecs(config, { env: ENV, options: { stage: 'prod' } });
    assert.deepEqual(
      specs.map((s) => [s.key, s.memoryMb, s.timeoutSeconds, s.artifact]),
      [
        ['execute', 128, 60, 'dist/execute.zip'],
        ['check', 256, 120, 'dist/check.zip'],
        ['cancel', 128, 30, 'dist/cancel.zip'],
      ],
    );
    assert.equal(specs[0]?.environment.RUN_STORE, ENV.RUN_STORE);
    assert.equal(specs[0]?.environment.RUN_STORE_TABLE, 'datasphere_runs');
    assert.equal(specs[1]?.environment.NOTIFY_WEBHOOK_URL, '');
  });

  it('names every unresolvable variable at once', () => {
    assert.throws(
      () => functionSpecs(config, { env: {}, options: {} }),
      (error: Error) => {
        assert.ok(error instanceof AggregateError);
        assert.equal(error.errors.length, 2); // RUN_STORE and ALLOWED_PROJECTS, each naming its users
        assert.match(
          error.message,
          /functions\.execute\.RUN_STORE, check\.RUN_STORE, cancel\.RUN_STORE: env:RUN_STORE is not set/,
        );
        assert.match(error.message, /cancel\.ALLOWED_PROJECTS: env:ALLOWED_PROJECTS is not set/);
        return true;
      },
    );
  });

  it('resolves defaults and values, and refuses a Lockbox reference (it would become a plain variable)', () => {
    const ctx = { env: { A: 'x', EMPTY: '' }, options: { stage: 'dev' } };
    assert.equal(resolveValue(ref("env:A, 'd'"), ctx, 'w'), 'x');
    assert.equal(resolveValue(ref("env:B, 'd'"), ctx, 'w'), 'd');
    assert.equal(resolveValue(ref("env:EMPTY, ''"), ctx, 'w'), '');
    assert.equal(resolveValue(ref("opt:stage, 'prod'"), ctx, 'w'), 'dev');
    assert.equal(resolveValue('plain', ctx, 'w'), 'plain');
    assert.throws(
      () => resolveValue(ref('lockbox:e6qfake/webhook'), ctx, 'w'),
      /would become a plain environment variable/,
    );
    assert.throws(
      () => resolveValue(`prefix-${ref('env:A')}`, ctx, 'where'),
      /where: unsupported variable form/,
    );
  });
});
