import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { route } from '../../local/platform.ts';
import { functionEnvironment, parseStartOptions, StartUsageError } from '../../local/start-options.ts';

const LOCAL = { emulatorUrl: 'http://127.0.0.1:8787', webhookUrl: 'http://127.0.0.1:9999/reports' };

describe('npm start options (local/start-options.ts)', () => {
  it('has the documented defaults', () => {
    const options = parseStartOptions([], '/repo');
    assert.deepEqual(options, {
      port: 8080,
      emulatorPort: 8787,
      tickSeconds: 10,
      runSeconds: 20,
      logLevel: 'info',
      stateDir: '/repo/.local',
      help: false,
    });
  });

  it('reads every option; --verbose is --log-level debug', () => {
    const options = parseStartOptions(
      [
        '--port',
        '0',
        '--emulator-port',
        '18787',
        '--tick-seconds',
        '0.5',
        '--run-seconds',
        '3',
        '-v',
        '--state-dir',
        'tmp/x',
      ],
      '/repo',
    );
    assert.equal(options.port, 0);
    assert.equal(options.emulatorPort, 18787);
    assert.equal(options.tickSeconds, 0.5);
    assert.equal(options.runSeconds, 3);
    assert.equal(options.logLevel, 'debug');
    assert.equal(options.stateDir, '/repo/tmp/x');
    assert.equal(parseStartOptions(['--log-level', 'WARN'], '/r').logLevel, 'warn');
    assert.equal(parseStartOptions(['-h'], '/r').help, true);
  });

  it('refuses a wrong option in one line naming it', () => {
    const cases: [string[], RegExp][] = [
      [['--port', '99999'], /--port: "99999" is not a port/],
      [['--port', 'eighty'], /--port: "eighty" is not a port/],
      [['--tick-seconds', '0'], /--tick-seconds: "0" must be a number of seconds from 0.2/],
      [['--log-level', 'loud'], /--log-level: "loud" must be one of debug, info, warn, error/],
      [['--prot', '1'], /Unknown option '--prot'.*see npm start -- --help/],
    ];
    for (const [args, message] of cases) {
      assert.throws(
        () => parseStartOptions(args, '/r'),
        (error: unknown) =>
          error instanceof StartUsageError && message.test(error.message) && !error.message.includes('\n'),
        args.join(' '),
      );
    }
  });

  it('passes the settings set in the environment to the functions; the endpoints stay the emulator', () => {
    const options = parseStartOptions(['--tick-seconds', '2'], '/repo');
    const defaults = functionEnvironment(options, LOCAL, {});
    assert.equal(defaults.env.ALLOWED_PROJECTS, '*');
    assert.equal(defaults.env.RUN_STORE, 'file:/repo/.local/runs');
    assert.equal(defaults.env.CHECK_FIRST_DELAY_SECONDS, '2');
    assert.equal(defaults.env.NOTIFY_WEBHOOK_URL, LOCAL.webhookUrl);
    assert.deepEqual(defaults.fromEnvironment, []);
    const custom = functionEnvironment(options, LOCAL, {
      ALLOWED_PROJECTS: 'demo-project',
      RUN_TIMEOUT_SECONDS: '60',
      CHECK_FIRST_DELAY_SECONDS: '0',
      DATASPHERE_ENDPOINT: 'https://datasphere.api.cloud.yandex.net',
      YC_IAM_TOKEN: 't1.fake-real-looking-token',
      UNRELATED: 'x',
    });
    assert.equal(custom.env.ALLOWED_PROJECTS, 'demo-project');
    assert.equal(custom.env.RUN_TIMEOUT_SECONDS, '60');
    assert.equal(custom.env.CHECK_FIRST_DELAY_SECONDS, '0');
    assert.equal(custom.env.DATASPHERE_ENDPOINT, LOCAL.emulatorUrl);
    assert.equal(custom.env.YC_IAM_TOKEN, 'local-emulator-token');
    assert.equal(custom.env.UNRELATED, undefined);
    assert.deepEqual(custom.fromEnvironment, [
      'ALLOWED_PROJECTS',
      'RUN_TIMEOUT_SECONDS',
      'CHECK_FIRST_DELAY_SECONDS',
    ]);
  });
});

describe('the local front door routes (local/platform.ts)', () => {
  it('serves the API Gateway routes with their path parameters, as the gateway (credentials required)', () => {
    assert.deepEqual(route('POST', '/runs'), {
      kind: 'function',
      fn: 'execute',
      gateway: { path: '/runs', operationId: 'startRun' },
    });
    assert.deepEqual(route('GET', '/runs'), {
      kind: 'function',
      fn: 'check',
      gateway: { path: '/runs', operationId: 'listRuns' },
    });
    assert.deepEqual(route('GET', '/runs/r%2F1'), {
      kind: 'function',
      fn: 'check',
      params: { runId: 'r/1' },
      gateway: { path: '/runs/{runId}', operationId: 'getRun' },
    });
    assert.deepEqual(route('POST', '/runs/r1/cancel'), {
      kind: 'function',
      fn: 'cancel',
      params: { runId: 'r1' },
      gateway: { path: '/runs/{runId}/cancel', operationId: 'cancelRun' },
    });
  });

  it('passes each function URL through whatever the method, and has queues and an index', () => {
    assert.deepEqual(route('DELETE', '/execute'), { kind: 'function', fn: 'execute' });
    assert.deepEqual(route('GET', '/check'), { kind: 'function', fn: 'check' });
    assert.deepEqual(route('POST', '/queues/execute'), { kind: 'queue', fn: 'execute' });
    assert.deepEqual(route('POST', '/queues/cancel'), { kind: 'queue', fn: 'cancel' });
    assert.deepEqual(route('GET', '/'), { kind: 'index' });
  });

  it('answers another method on a known route 405 with what is allowed, and anything else 404', () => {
    assert.deepEqual(route('DELETE', '/runs'), { kind: 'method-not-allowed', allow: 'GET, POST' });
    assert.deepEqual(route('POST', '/runs/r1'), { kind: 'method-not-allowed', allow: 'GET' });
    assert.deepEqual(route('GET', '/runs/r1/cancel'), { kind: 'method-not-allowed', allow: 'POST' });
    assert.deepEqual(route('GET', '/queues/execute'), { kind: 'method-not-allowed', allow: 'POST' });
    assert.deepEqual(route('POST', '/'), { kind: 'method-not-allowed', allow: 'GET, HEAD' });
    for (const path of ['/nope', '/runs/r1/retry', '/runs/a/b/c/d', '/queues/check', '/runs/%E0%A4%A']) {
      assert.deepEqual(route('GET', path), { kind: 'not-found' }, path);
    }
  });
});
