import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunRecord } from '../../shared/core/run-record.ts';
import { RunnerError } from '../../shared/errors.ts';
import { createInMemoryLedger } from '../../shared/ledger/in-memory-ledger.ts';
import { redactingLedger } from '../../shared/ledger/redacting-ledger.ts';
import { createLogger } from '../../shared/log.ts';
import { createNotifier } from '../../shared/notify/notifier.ts';
import { redactingNotifier } from '../../shared/notify/redacting-notifier.ts';
import { createRedactor } from '../../shared/redact.ts';

// Obviously fake secrets of shapes no pattern knows.
const CONTEXT_TOKEN = 'CTX-opaque-fake-4f1d9a7be2c04d15a8e3';
const ENV_TOKEN = 'ENVTOKEN_fake_77aa11bb22cc33dd';
const WEBHOOK_SECRET = 'hook-secret-fake-0b5e';

describe('createRedactor', () => {
  it('masks configured and learned values in any shape of text, and nothing else', () => {
    const redactor = createRedactor([ENV_TOKEN, undefined, WEBHOOK_SECRET]);
    redactor.learn(CONTEXT_TOKEN);
    for (const shape of [
      `token ${CONTEXT_TOKEN}`,
      `'${CONTEXT_TOKEN}'`,
      `{"credential":"${CONTEXT_TOKEN}"}`,
      `bad value ${ENV_TOKEN}.`,
      `x-secret: ${WEBHOOK_SECRET}`,
      `q=${encodeURIComponent(CONTEXT_TOKEN)}`,
    ]) {
      const out = redactor.text(shape);
      for (const secret of [CONTEXT_TOKEN, ENV_TOKEN, WEBHOOK_SECRET]) assert.ok(!out.includes(secret), out);
      assert.match(out, /\[REDACTED\]/);
    }
    assert.equal(redactor.values('projectId p1, notebook t1.ipynb'), 'projectId p1, notebook t1.ipynb');
  });

  it('masks a secret cut off by a snippet (…), and the JSON-escaped form of a secret', () => {
    const redactor = createRedactor(['sec"ret\\value-0123456789']);
    assert.equal(redactor.values(JSON.stringify({ a: 'sec"ret\\value-0123456789' })), '{"a":"[REDACTED]"}');
    const cut = createRedactor([CONTEXT_TOKEN]);
    assert.equal(
      cut.values(`answer: token ${CONTEXT_TOKEN.slice(0, 20)}… (after 3 attempts)`),
      'answer: token [REDACTED]… (after 3 attempts)',
    );
    // A short start of a secret is ordinary text.
    assert.equal(cut.values('CTX-o… more'), 'CTX-o… more');
  });

  it('scrubs plain data deeply, keeping keys, numbers, dates and a __proto__ key as a key', () => {
    const redactor = createRedactor([ENV_TOKEN]);
    const date = new Date(0);
    const data = JSON.parse(`{"a":[{"b":"x ${ENV_TOKEN}"}],"n":1,"__proto__":"${ENV_TOKEN}"}`);
    const out = redactor.deep({ ...data, date });
    assert.deepEqual(out.a, [{ b: 'x [REDACTED]' }]);
    assert.equal(out.n, 1);
    assert.equal(out.date, date);
    assert.equal(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, '[REDACTED]');
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
  });

  it('copies only what it masks: data with nothing to hide comes back as it is, the input never changes', () => {
    const redactor = createRedactor([ENV_TOKEN]);
    const clean = { runId: 'r1', request: { projectId: 'p1', variables: { n: 1 } }, events: [{ at: 'x' }] };
    assert.equal(redactor.deep(clean), clean);
    const dirty = {
      runId: 'r1',
      request: clean.request,
      error: { code: 7, message: `denied for ${ENV_TOKEN}` },
      notes: ['ok', `a ${ENV_TOKEN}`],
    };
    const snapshot = structuredClone(dirty);
    const out = redactor.deep(dirty);
    assert.deepEqual(dirty, snapshot);
    assert.deepEqual(out, {
      runId: 'r1',
      request: clean.request,
      error: { code: 7, message: 'denied for [REDACTED]' },
      notes: ['ok', 'a [REDACTED]'],
    });
    // Untouched branches are shared, masked ones are new.
    assert.equal(out.request, dirty.request);
    assert.notEqual(out.error, dirty.error);
    assert.notEqual(out.notes, dirty.notes);
  });

  it('ignores values too short to hide and keeps a bounded number of learned tokens', () => {
    const redactor = createRedactor(['abc']);
    assert.equal(redactor.size, 0);
    for (let i = 0; i < 100; i++) redactor.learn(`learned-token-${i}-fake`);
    assert.equal(redactor.size, 64);
    assert.equal(redactor.values('learned-token-99-fake'), '[REDACTED]');
    assert.equal(redactor.values('learned-token-0-fake'), 'learned-token-0-fake');
  });
});

describe('the logger with a redactor', () => {
  it('writes no secret by value, in messages, fields or errors', () => {
    const redactor = createRedactor([ENV_TOKEN]);
    redactor.learn(CONTEXT_TOKEN);
    const lines: string[] = [];
    const log = createLogger({ redactor, write: (line) => lines.push(line) });
    log.error(`failed with ${CONTEXT_TOKEN}`, {
      note: `'${ENV_TOKEN}'`,
      error: new RunnerError('API_ERROR', `token ${CONTEXT_TOKEN}`, { cause: new Error(ENV_TOKEN) }),
    });
    assert.equal(lines.length, 1);
    assert.ok(!lines[0]?.includes(CONTEXT_TOKEN) && !lines[0]?.includes(ENV_TOKEN), lines[0]);
  });
});

const record = (message: string): RunRecord => ({
  runId: 'r1',
  dedupeKey: 'key:k1',
  requestHash: 'h',
  request: { projectId: 'p1', notebookId: 'nb', inputVariables: { A: message } },
  trigger: 'http',
  projectId: 'p1',
  notebookId: 'nb',
  status: 'FAILED',
  error: { code: 3, message },
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  deadline: '2025-01-02T00:00:00.000Z',
  checks: 0,
  notifications: { webhook: { delivered: false, attempts: 1, lastError: message } },
  version: 1,
});

describe('redactingLedger', () => {
  it('stores every record scrubbed, on create and on update, and forwards every other method', async () => {
    const redactor = createRedactor([ENV_TOKEN]);
    const store = createInMemoryLedger();
    const ledger = redactingLedger(store, redactor);
    const created = await ledger.create(record(`Invalid token '${ENV_TOKEN}'`));
    assert.equal(created.created, true);
    const stored = await store.get('r1');
    assert.equal(stored?.error?.message, "Invalid token '[REDACTED]'");
    assert.equal(stored?.notifications?.webhook?.lastError, "Invalid token '[REDACTED]'");
    assert.equal(stored?.request.inputVariables?.A, "Invalid token '[REDACTED]'");
    const updated = await ledger.update({
      ...(stored as RunRecord),
      error: { code: 3, message: `again ${ENV_TOKEN}` },
    });
    assert.equal(updated?.version, 2);
    assert.equal((await store.get('r1'))?.error?.message, 'again [REDACTED]');
    assert.equal((await ledger.listOpen()).length, 0);
    assert.equal((await ledger.get('r1'))?.version, 2);
  });
});

describe('redactingNotifier', () => {
  it('sends the report scrubbed and scrubs the text of a failed delivery before the core stores it', async () => {
    const redactor = createRedactor([WEBHOOK_SECRET]);
    redactor.learn(CONTEXT_TOKEN);
    const sent: unknown[] = [];
    const notifier = redactingNotifier(
      createNotifier([
        {
          name: 'webhook',
          async send(notification) {
            sent.push(notification);
            throw new RunnerError(
              'NOTIFY_ERROR',
              `webhook answered 400: "bad ${WEBHOOK_SECRET} for ${CONTEXT_TOKEN}"`,
              {
                details: { destination: 'webhook', retryable: false },
              },
            );
          },
        },
      ]),
      redactor,
    );
    const notification = {
      type: 'run.finished',
      deliveryId: 'd1',
      run: { error: { message: CONTEXT_TOKEN } },
    };
    await assert.rejects(notifier.deliver('webhook', notification as never), (error: unknown) => {
      assert.ok(error instanceof RunnerError);
      assert.equal(error.code, 'NOTIFY_ERROR');
      assert.equal(error.message, 'webhook answered 400: "bad [REDACTED] for [REDACTED]"');
      assert.equal(error.details?.retryable, false);
      return true;
    });
    assert.deepEqual(sent, [
      { type: 'run.finished', deliveryId: 'd1', run: { error: { message: '[REDACTED]' } } },
    ]);
  });
});
