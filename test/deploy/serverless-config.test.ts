import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BUNDLE_ENTRY, checkFunctionEnvironment, checkTriggers } from '../../deploy/preflight.ts';
import {
  expectedDeployment,
  functionEnvironments,
  LOCKBOX_PLACEHOLDER,
  loadServerlessConfig,
  resolveValue,
} from '../../deploy/serverless-config.ts';
import { parseYandexCron } from '../../shared/schedule/yandex-cron.ts';

const root = join(import.meta.dirname, '..', '..');
const config = loadServerlessConfig(join(root, 'serverless.yaml'));
const rawText = readFileSync(join(root, 'serverless.yaml'), 'utf8');

type Fn = {
  handler?: unknown;
  memorySize?: unknown;
  timeout?: unknown;
  account?: unknown;
  environment?: Record<string, unknown>;
  package?: Record<string, unknown>;
  events?: Record<string, Record<string, unknown>>[];
};
const functions = config.functions as Record<string, Fn>;
const provider = config.provider as Record<string, unknown>;
const resources = config.resources as Record<string, { type?: string; roles?: string[] }>;

/** Every setting the functions read (design.md §3 and the deploy brief). */
const REQUIRED_ENVIRONMENT = [
  'DATASPHERE_ENDPOINT',
  'OPERATION_ENDPOINT',
  'RUN_STORE',
  'RUN_STORE_TABLE',
  'ALLOWED_PROJECTS',
  'RUN_TIMEOUT_SECONDS',
  'LOG_LEVEL',
];

/** The report destinations: only check sends reports, so only check holds them (and their secrets). */
const NOTIFY_ENVIRONMENT = [
  'NOTIFY_WEBHOOK_URL',
  'NOTIFY_WEBHOOK_SECRET',
  'NOTIFY_QUEUE_URL',
  'NOTIFY_QUEUE_ACCESS_KEY_ID',
  'NOTIFY_QUEUE_SECRET_ACCESS_KEY',
];

/** A Serverless variable reference (dollar, braces), written without a template-looking literal. */
const ref = (inner: string): string => ['$', '{', inner, '}'].join('');

const QUEUE_ENV = {
  RUN_QUEUE_ARN: 'yrn:yc:ymq:ru-central1:b1gfakefolder00000000:datasphere-runner-runs',
  CANCEL_QUEUE_ARN: 'yrn:yc:ymq:ru-central1:b1gfakefolder00000000:datasphere-runner-cancels',
};
const VALID_ENV = {
  ...QUEUE_ENV,
  RUN_STORE: 'docapi:https://docapi.serverless.yandexcloud.net/ru-central1/b1gfakecloud/etnfakedb',
  ALLOWED_PROJECTS: 'bt1fakeproject000000',
};

function events(fn: string, type: string): Record<string, unknown>[] {
  return (functions[fn]?.events ?? []).flatMap((event) => (event[type] === undefined ? [] : [event[type]]));
}

describe('serverless.yaml', () => {
  it('targets the nodejs22 runtime on the yandex-cloud provider with the plugin loaded', () => {
    assert.equal(provider.name, 'yandex-cloud');
    assert.equal(provider.runtime, 'nodejs22');
    assert.equal(config.frameworkVersion, '3');
    assert.deepEqual(config.plugins, ['@yandex-cloud/serverless-plugin']);
  });

  it('never turns schema warnings into errors, since nodejs22 is not in the plugin enum', () => {
    assert.notEqual(config.configValidationMode, 'error');
  });

  it('relies on no provider-level memory, timeout or environment (the plugin ignores them)', () => {
    for (const key of ['environment', 'memorySize', 'timeout']) {
      assert.equal(provider[key], undefined, `provider.${key} is ignored by the plugin; set it per function`);
    }
  });

  it('declares exactly the three functions', () => {
    assert.deepEqual(Object.keys(functions).sort(), ['cancel', 'check', 'execute']);
  });

  it('gives each function its own memory, timeout, service account and handler matching the bundle', () => {
    const sizes: Record<string, [number, string]> = {
      execute: [128, '60'],
      check: [256, '120'],
      cancel: [128, '30'],
    };
    for (const [name, fn] of Object.entries(functions)) {
      assert.deepEqual([fn.memorySize, fn.timeout], sizes[name], `${name}: memorySize/timeout`);
      assert.equal(typeof fn.timeout, 'string', `${name}: the plugin schema wants timeout as a string`);
      // The zip holds index.js at its root and the bundle exports `handler`.
      assert.equal(fn.handler, `${BUNDLE_ENTRY.replace(/\.js$/, '')}.handler`, `${name}: handler`);
      assert.equal(fn.account, 'datasphere-runner-functions', `${name}: account`);
    }
  });

  it('packages each function individually from its own zip', () => {
    assert.equal((config.package as Record<string, unknown>).individually, true);
    for (const [name, fn] of Object.entries(functions)) {
      assert.deepEqual(fn.package, { artifact: `dist/${name}.zip` }, `${name}: package`);
    }
  });

  it('gives every function the whole environment the configuration reads, as strings', () => {
    for (const [name, fn] of Object.entries(functions)) {
      const environment = fn.environment ?? {};
      const missing = REQUIRED_ENVIRONMENT.filter((key) => !(key in environment));
      assert.deepEqual(missing, [], `${name}: environment lacks ${missing.join(', ')}`);
      for (const [key, value] of Object.entries(environment)) {
        assert.equal(typeof value, 'string', `${name}.${key}: the plugin refuses non-string values`);
      }
    }
    assert.ok('SCHEDULE_CATCH_UP_MINUTES' in (functions.execute?.environment ?? {}));
    assert.ok('CHECK_CONCURRENCY' in (functions.check?.environment ?? {}));
    for (const key of NOTIFY_ENVIRONMENT) {
      assert.ok(key in (functions.check?.environment ?? {}), `check: environment lacks ${key}`);
      assert.ok(!(key in (functions.execute?.environment ?? {})), `execute holds ${key}`);
      assert.ok(!(key in (functions.cancel?.environment ?? {})), `cancel holds ${key}`);
    }
  });

  it('holds no secret literal: every environment value is an env or lockbox variable reference', () => {
    for (const [name, fn] of Object.entries(functions)) {
      for (const [key, value] of Object.entries(fn.environment ?? {})) {
        assert.match(String(value), /^\$\{(env|lockbox):[^}]+\}$/, `${name}.${key} must be a reference`);
        if (/SECRET|TOKEN|PASSWORD|ACCESS_KEY/.test(key)) {
          assert.match(
            String(value),
            /^\$\{(env:[A-Z0-9_]+(, '')?|lockbox:[^}]+)\}$/,
            `${name}.${key}: no default`,
          );
        }
      }
    }
    // Shapes of real credentials: IAM tokens, API keys, static access keys, OAuth tokens.
    assert.doesNotMatch(
      rawText,
      /\bt1\.[A-Za-z0-9_-]{20,}|\bAQVN[A-Za-z0-9_-]{20,}|\bYC[A-Za-z0-9_-]{30,}|\by0_[A-Za-z0-9_-]{20,}/,
    );
  });

  it('has per-minute cron triggers for execute (jobs tick) and check (sweep) in the 6-field Yandex form', () => {
    for (const name of ['execute', 'check']) {
      const crons = events(name, 'cron');
      assert.equal(crons.length, 1, `${name}: one cron trigger`);
      const expression = String(crons[0]?.expression);
      assert.equal(expression, '* * ? * * *');
      assert.equal(expression.split(' ').length, 6);
      const cron = parseYandexCron(expression, `functions.${name}.cron`);
      assert.ok(cron.matches(new Date(Date.UTC(2025, 0, 1, 12, 34))), 'fires every minute');
      assert.equal(crons[0]?.account, 'datasphere-runner-invoker');
    }
    assert.equal(events('cancel', 'cron').length, 0);
  });

  it('has Message Queue triggers for execute and cancel on queues named by the deployer', () => {
    const queues = { execute: ref('env:RUN_QUEUE_ARN'), cancel: ref('env:CANCEL_QUEUE_ARN') };
    for (const [name, queueId] of Object.entries(queues)) {
      const ymq = events(name, 'ymq');
      assert.equal(ymq.length, 1, `${name}: one ymq trigger (one trigger per queue)`);
      const trigger = ymq[0] ?? {};
      assert.equal(trigger.queueId, queueId);
      assert.equal(trigger.batch, 10);
      assert.ok(Number(trigger.cutoff) >= 0 && Number(trigger.cutoff) <= 20, 'cutoff 0..20 s');
      assert.equal(trigger.queueAccount, 'datasphere-runner-invoker');
      assert.equal(trigger.account, 'datasphere-runner-invoker');
    }
    assert.equal(events('check', 'ymq').length, 0);
  });

  it('creates the two service accounts with their roles, and uses no other account', () => {
    assert.deepEqual(resources['datasphere-runner-functions'], {
      type: 'yc::ServiceAccount',
      roles: ['datasphere.community-projects.developer', 'ydb.editor', 'ymq.writer'],
    });
    assert.deepEqual(resources['datasphere-runner-invoker'], {
      type: 'yc::ServiceAccount',
      roles: ['serverless.functions.invoker', 'ymq.reader'],
    });
    const used = new Set<string>();
    for (const fn of Object.values(functions)) {
      used.add(String(fn.account));
      for (const event of fn.events ?? []) {
        for (const params of Object.values(event)) {
          for (const key of ['account', 'queueAccount'])
            if (params[key] !== undefined) used.add(String(params[key]));
        }
      }
    }
    for (const name of used) assert.equal(resources[name]?.type, 'yc::ServiceAccount', `${name} is declared`);
  });

  it('does not let the plugin build a second API gateway of its own', () => {
    assert.equal(provider.httpApi, undefined);
    for (const name of Object.keys(functions)) assert.equal(events(name, 'http').length, 0, name);
  });
});

describe('reading serverless.yaml for the deploy tools', () => {
  it('names functions and triggers as the plugin does: <service>-<stage>-<fn>[-<type>]', () => {
    const expected = expectedDeployment(config, { env: QUEUE_ENV, options: { stage: 'prod' } });
    assert.deepEqual(
      expected.functions.map((f) => f.name),
      ['datasphere-runner-prod-execute', 'datasphere-runner-prod-check', 'datasphere-runner-prod-cancel'],
    );
    assert.deepEqual(
      expected.triggers.map((t) => t.name),
      [
        'datasphere-runner-prod-execute-cron',
        'datasphere-runner-prod-execute-ymq',
        'datasphere-runner-prod-check-cron',
        'datasphere-runner-prod-cancel-ymq',
      ],
    );
    const queue = expected.triggers.find((t) => t.type === 'ymq');
    assert.equal(queue?.type === 'ymq' ? queue.queueId : undefined, QUEUE_ENV.RUN_QUEUE_ARN);
    assert.deepEqual(expected.serviceAccountNames, [
      'datasphere-runner-functions',
      'datasphere-runner-invoker',
    ]);
    const names = expectedDeployment(config, { env: QUEUE_ENV, options: {} }).functions.map((f) => f.name);
    assert.equal(names[0], 'datasphere-runner-prod-execute', 'the stage defaults to prod');
  });

  it('names the variable that is missing', () => {
    assert.throws(
      () => expectedDeployment(config, { env: {}, options: { stage: 'prod' } }),
      /functions\.execute\.events\.1\.ymq\.queueId: env:RUN_QUEUE_ARN is not set and has no default/,
    );
    assert.throws(
      () => functionEnvironments(config, { env: QUEUE_ENV, options: {} }),
      /functions\.execute\.environment\.RUN_STORE: env:RUN_STORE is not set/,
    );
  });

  it('resolves defaults, values and Lockbox references', () => {
    const ctx = { env: { A: 'x', EMPTY: '' }, options: { stage: 'dev' } };
    assert.equal(resolveValue(ref("env:A, 'd'"), ctx, 'w'), 'x');
    assert.equal(resolveValue(ref("env:B, 'd'"), ctx, 'w'), 'd');
    assert.equal(resolveValue(ref("env:EMPTY, ''"), ctx, 'w'), '');
    assert.equal(resolveValue(ref("opt:stage, 'prod'"), ctx, 'w'), 'dev');
    assert.equal(resolveValue(ref('lockbox:e6qfake/webhook'), ctx, 'w'), LOCKBOX_PLACEHOLDER);
    assert.equal(resolveValue('plain', ctx, 'w'), 'plain');
    assert.throws(
      () => resolveValue(`prefix-${ref('env:A')}`, ctx, 'where'),
      /where: unsupported variable form/,
    );
  });

  it('finds nothing wrong in a valid environment, as the functions would validate it at cold start', () => {
    const environments = functionEnvironments(config, { env: VALID_ENV, options: {} });
    for (const [name, environment] of Object.entries(environments)) {
      assert.deepEqual(checkFunctionEnvironment(name, environment), [], name);
    }
    const expected = expectedDeployment(config, { env: VALID_ENV, options: {} });
    assert.deepEqual(checkTriggers(expected.triggers), []);
  });

  it('refuses a file store, a bad project list and an oversized environment before deploying', () => {
    const bad = functionEnvironments(config, {
      env: { ...VALID_ENV, RUN_STORE: 'file:/tmp/runs' },
      options: {},
    });
    assert.match(
      checkFunctionEnvironment('check', bad.check ?? {}).join('\n'),
      /RUN_STORE: a file: store is refused/,
    );
    const projects = functionEnvironments(config, {
      env: { ...VALID_ENV, ALLOWED_PROJECTS: 'bad id!' },
      options: {},
    });
    assert.match(checkFunctionEnvironment('execute', projects.execute ?? {}).join('\n'), /ALLOWED_PROJECTS/);
    const huge = {
      ...(bad.cancel ?? {}),
      RUN_STORE: VALID_ENV.RUN_STORE,
      NOTIFY_WEBHOOK_SECRET: 'x'.repeat(4000),
    };
    assert.match(checkFunctionEnvironment('cancel', huge).join('\n'), /over the platform's 4096/);
  });

  it('refuses a queue id that is not a queue ARN', () => {
    const expected = expectedDeployment(config, {
      env: { ...QUEUE_ENV, CANCEL_QUEUE_ARN: 'https://message-queue.api.cloud.yandex.net/b1g/dj6/cancels' },
      options: {},
    });
    const problems = checkTriggers(expected.triggers);
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /datasphere-runner-prod-cancel-ymq: queue ".*" is not a queue ARN/);
  });
});
