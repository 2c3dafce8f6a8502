import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { CoreDeps } from '../../shared/core/ports.ts';
import { ConfigError } from '../../shared/errors.ts';
import { createLogger } from '../../shared/log.ts';
import { createRedactor } from '../../shared/redact.ts';
import { createEntryHandler } from '../../shared/triggers/entry-points.ts';
import { jsonResult } from '../../shared/triggers/http-response.ts';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/events', name), 'utf8'));

function runtime(depsFor: () => CoreDeps) {
  const lines: Record<string, unknown>[] = [];
  const redactor = createRedactor();
  const log = createLogger({ redactor, write: (line) => lines.push(JSON.parse(line)) });
  return {
    lines,
    runtime: {
      log,
      redactor,
      enter: () => undefined,
      depsFor,
      deadlineSignal: () => undefined,
      authenticate: (): never => {
        throw new Error('no gateway call in these tests');
      },
    },
  };
}

describe('createEntryHandler', () => {
  it('runs the entry point that matches the event', async () => {
    const { runtime: rt } = runtime(() => ({}) as CoreDeps);
    const handler = createEntryHandler('check', rt, {
      http: async () => jsonResult(200, { ok: 'http' }),
      timer: async (messages) => ({ timer: messages.length }),
      queue: async (messages) => ({ queue: messages.length }),
    });
    assert.equal(((await handler(fixture('http-url-json.json'))) as { statusCode: number }).statusCode, 200);
    assert.deepEqual(await handler(fixture('timer.json')), { timer: 1 });
    assert.deepEqual(await handler(fixture('ymq.json')), { queue: 2 });
  });

  it('logs and drops an event for an entry point the function lacks, and an unrecognisable event', async () => {
    const { runtime: rt, lines } = runtime(() => ({}) as CoreDeps);
    const handler = createEntryHandler('cancel', rt, { http: async () => jsonResult(200, {}) });
    assert.deepEqual(await handler(fixture('timer.json')), { dropped: 1 });
    assert.deepEqual(await handler({ hello: 'world' }), { dropped: 1 });
    assert.deepEqual(
      lines.map((line) => line.msg),
      ['cancel has no timer entry point; event dropped', 'unrecognised event dropped'],
    );
  });

  it('answers a bad setting over HTTP as JSON naming it, and throws it for a trigger so it is retried', async () => {
    const { runtime: rt } = runtime(() => {
      throw new ConfigError('RUN_STORE', 'is required');
    });
    const entries = {
      http: async (_event: unknown, invocation: { deps(): CoreDeps }) => {
        invocation.deps();
        return jsonResult(200, {});
      },
      timer: async (_messages: unknown, invocation: { deps(): CoreDeps }) => invocation.deps(),
    };
    const handler = createEntryHandler('check', rt, entries);
    const answer = (await handler(fixture('http-url-json.json'))) as { statusCode: number; body: string };
    assert.equal(answer.statusCode, 500);
    assert.deepEqual(JSON.parse(answer.body).error.code, 'CONFIG_ERROR');
    assert.match(JSON.parse(answer.body).error.message, /RUN_STORE/);
    await assert.rejects(handler(fixture('timer.json')), /RUN_STORE/);
  });
});
