/**
 * Malformed input through the built functions: every kind of bad request gets an error naming the
 * field, nothing invalid reaches the DataSphere API, and bad trigger messages are dropped (logged with
 * their id) rather than redelivered.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { timerEvent } from '../../local/cloud-events.ts';
import { runIdFor } from '../../shared/core/run-identity.ts';
import { openLedger } from '../../shared/ledger/open-ledger.ts';
import type { RunLedger } from '../../shared/ledger/run-ledger.ts';
import { docApiStoreEnv, startDynalite, TEST_KEYS } from '../ledger/dynalite-server.ts';
import {
  type BuiltBundles,
  buildBundles,
  eventually,
  type Harness,
  type HttpAnswer,
  PROJECT,
  startHarness,
} from './support/harness.ts';

let bundles: BuiltBundles | undefined;
let harness: Harness | undefined;
const h = (): Harness => {
  if (harness === undefined) throw new Error('the platform did not start');
  return harness;
};

/** The same bundles on the Document API store (dynalite), for the limits that protect the ledger. */
let dynalite: Awaited<ReturnType<typeof startDynalite>> | undefined;
let docapiHarness: Harness | undefined;
const dispatcher = new Agent();
const ledgers: Record<'file' | 'docapi', RunLedger | undefined> = { file: undefined, docapi: undefined };
const QUEUE = { cutoffMs: 50, visibilityMs: 300, maxReceiveCount: 50 };

before(async () => {
  bundles = await buildBundles();
  harness = await startHarness({
    distDir: bundles.distDir,
    env: { RUN_STORE: `file:${bundles.dir}/runs`, ALLOWED_PROJECTS: `${PROJECT},p-arrays` },
    queue: QUEUE,
  });
  ledgers.file = openLedger({ kind: 'file', dir: `${bundles.dir}/runs` }, { dispatcher });
  dynalite = await startDynalite();
  const table = `e2e_limits_${randomUUID().slice(0, 8)}`;
  docapiHarness = await startHarness({
    distDir: bundles.distDir,
    env: {
      ...docApiStoreEnv(dynalite.endpoint, table),
      ALLOWED_PROJECTS: PROJECT,
    },
    queue: QUEUE,
  });
  ledgers.docapi = openLedger(
    { kind: 'docapi', endpoint: dynalite.endpoint, table, auth: TEST_KEYS },
    { dispatcher },
  );
});

after(async () => {
  await harness?.close();
  await docapiHarness?.close();
  await ledgers.file?.close?.();
  await ledgers.docapi?.close?.();
  await dynalite?.close();
  await dispatcher.close();
  bundles?.remove();
});

/** The answer is `status` with `{"error": {"code", "message", "field"}}` naming `field`. */
function assertError(answer: HttpAnswer, status: number, code: string, field?: string): void {
  assert.equal(answer.status, status, answer.text);
  const error = answer.json?.error as Record<string, unknown> | undefined;
  assert.equal(error?.code, code, answer.text);
  assert.equal(typeof error?.message, 'string');
  if (field !== undefined) {
    assert.equal(error?.field, field, answer.text);
    if (code === 'INVALID_REQUEST') assert.ok(String(error?.message).startsWith(`${field}: `), answer.text);
  }
}

/** A project of its own, so a request wrongly accepted there does not disturb the other checks. */
const ARRAY_PROJECT = 'p-arrays';
const valid = { projectId: PROJECT, notebookId: 'malformed/nb.ipynb' };

describe('malformed HTTP requests get an error naming the field and reach no API', () => {
  it('a body that is not JSON is refused with 400 naming the body', async () => {
    const answer = await h().request('POST', '/execute', {
      headers: { 'content-type': 'application/json' },
      body: '{"projectId": "p-e2e", ',
    });
    assertError(answer, 400, 'INVALID_REQUEST', 'body');
  });

  it('an unknown field is refused with 400 naming it', async () => {
    assertError(await h().execute({ ...valid, colour: 'blue' }), 400, 'INVALID_REQUEST', 'colour');
  });

  it('a missing projectId is refused with 400 naming projectId', async () => {
    const answer = await h().execute({ notebookId: 'malformed/nb.ipynb' });
    assertError(answer, 400, 'INVALID_REQUEST', 'projectId');
    assert.match(answer.json?.error.message, /required/);
  });

  it('a notebookId longer than 200 characters is refused with 400 naming notebookId', async () => {
    const answer = await h().execute({ ...valid, notebookId: `${'n'.repeat(195)}.ipynb` });
    assertError(answer, 400, 'INVALID_REQUEST', 'notebookId');
    assert.match(answer.json?.error.message, /200/);
  });

  it('inputVariables of the wrong type are refused with 400 naming the field', async () => {
    assertError(
      await h().execute({ ...valid, inputVariables: 'A=1' }),
      400,
      'INVALID_REQUEST',
      'inputVariables',
    );
    assertError(
      await h().execute({ ...valid, inputVariables: { MODE: { nested: true } } }),
      400,
      'INVALID_REQUEST',
      'inputVariables.MODE',
    );
  });

  it('timeoutSeconds out of range is refused with 400 naming timeoutSeconds', async () => {
    for (const timeoutSeconds of [0, 604801, 1.5, '60']) {
      assertError(await h().execute({ ...valid, timeoutSeconds }), 400, 'INVALID_REQUEST', 'timeoutSeconds');
    }
  });

  it('a project not in ALLOWED_PROJECTS is refused with 403 before any API call', async () => {
    const answer = await h().execute({ projectId: 'p-not-allowed', notebookId: 'malformed/nb.ipynb' });
    assertError(answer, 403, 'PROJECT_NOT_ALLOWED', 'projectId');
    assert.equal(answer.json?.run, undefined);
  });

  it('an unknown runId is 404 on check and on cancel, and so is an unknown operationId', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    assertError(await h().check(unknown), 404, 'RUN_NOT_FOUND', 'runId');
    assertError(await h().request('GET', `/runs/${unknown}`), 404, 'RUN_NOT_FOUND', 'runId');
    assertError(await h().request('POST', `/cancel?runId=${unknown}`), 404, 'RUN_NOT_FOUND', 'runId');
    assertError(await h().request('POST', `/runs/${unknown}/cancel`), 404, 'RUN_NOT_FOUND', 'runId');
    assertError(
      await h().request('POST', '/cancel', { body: { operationId: 'bt1notours00000000000' } }),
      404,
      'RUN_NOT_FOUND',
      'operationId',
    );
  });

  it('GET on execute and cancel is 405 with Allow: POST; any method but GET on check is 405 with Allow: GET', async () => {
    for (const path of ['/execute', '/cancel?runId=r1']) {
      const answer = await h().request('GET', path);
      assert.equal(answer.status, 405, answer.text);
      assert.equal(answer.headers.get('allow'), 'POST');
      assert.equal(answer.json?.error.code, 'METHOD_NOT_ALLOWED');
    }
    for (const method of ['POST', 'DELETE', 'PUT', 'PATCH']) {
      for (const path of ['/check?runId=r1', '/runs/r1']) {
        const answer = await h().request(method, path, { body: { runId: 'r1' } });
        assert.equal(answer.status, 405, `${method} ${path}: ${answer.text}`);
        assert.equal(answer.headers.get('allow'), 'GET');
        assert.equal(answer.json?.error.code, 'METHOD_NOT_ALLOWED');
      }
    }
  });

  it('a body with several wrong fields lists them all, the first in message and field', async () => {
    const answer = await h().execute({
      projectId: PROJECT,
      notebookId: 'malformed/several.ipynb',
      timeoutSeconds: '60',
      concurrency: 'later',
      retry: { attempts: 0, on: ['CANCELLED'] },
      colour: 'blue',
    });
    assertError(answer, 400, 'INVALID_REQUEST', 'colour');
    assert.deepEqual(answer.json?.error.errors, [
      { field: 'colour', message: 'colour: is not a field of a run request' },
      { field: 'timeoutSeconds', message: 'timeoutSeconds: must be an integer, got a string' },
      {
        field: 'concurrency',
        message: 'concurrency: must be one of "allow", "skip", "queue", "replace", got "later"',
      },
      { field: 'retry.attempts', message: 'retry.attempts: must be between 1 and 10, got 0' },
      { field: 'retry.on.0', message: 'retry.on.0: must be one of "FAILED", "TIMED_OUT", got "CANCELLED"' },
    ]);
  });

  it('a projectId with surrounding or invisible whitespace is refused, not trimmed', async () => {
    for (const projectId of [` ${PROJECT} `, `\u00a0${PROJECT}\ufeff`]) {
      const answer = await h().execute({ projectId, notebookId: 'malformed/space.ipynb' });
      assertError(answer, 400, 'INVALID_REQUEST', 'projectId');
      assert.match(answer.json?.error.message, /whitespace or invisible characters/);
    }
  });

  it('an input variable named __proto__ is refused by name, not dropped', async () => {
    const answer = await h().request('POST', '/execute', {
      headers: { 'content-type': 'application/json' },
      body: `{"projectId":"${PROJECT}","notebookId":"malformed/proto.ipynb","inputVariables":{"__proto__":"x"}}`,
    });
    assertError(answer, 400, 'INVALID_REQUEST', 'inputVariables.__proto__');
  });

  it('check with an empty runId is 400 naming runId', async () => {
    // A GET naming no run at all is the run history (design.md §6; test/e2e/run-history-*.test.ts).
    assertError(await h().request('GET', '/check?runId='), 400, 'INVALID_REQUEST', 'runId');
    assertError(await h().request('POST', '/cancel', { body: {} }), 400, 'INVALID_REQUEST', 'runId');
  });

  it('none of these requests reached the DataSphere API', () => {
    assert.deepEqual(h().emulator.requests, []);
  });

  // Product bug (shared/triggers/run-request.ts, inputVariables: v.record accepts arrays): `[]` is
  // accepted as `{}` and starts a run; `["A=1"]` is refused as "inputVariables.0: names must be
  // environment variable names". Both should be 400 naming inputVariables: it must be an object.
  it('inputVariables given as an array is refused with 400 naming inputVariables (not started as {})', async () => {
    const request = { projectId: ARRAY_PROJECT, notebookId: 'malformed/array.ipynb' };
    for (const inputVariables of [[], ['A=1']]) {
      assertError(
        await h().execute({ ...request, inputVariables }),
        400,
        'INVALID_REQUEST',
        'inputVariables',
      );
    }
  });
});

describe('malformed trigger messages are dropped, logged with their id, and not retried', () => {
  const dropLines = (kind: string, messageId: string) =>
    h()
      .logs.lines(`${kind} message dropped: it can never succeed`)
      .filter((line) => line.messageId === messageId);

  it('a bad message in a queue batch is dropped while the good ones start, and the batch is not redelivered', async () => {
    const good = ['malformed/queue-good-1.ipynb', 'malformed/queue-good-2.ipynb'];
    const ids = {
      good1: h().platform.send('execute', JSON.stringify({ projectId: PROJECT, notebookId: good[0] })),
      badJson: h().platform.send('execute', '{"projectId": "p-e2e", "notebookId":'),
      unknownField: h().platform.send('execute', JSON.stringify({ ...valid, priority: 'high' })),
      notAllowed: h().platform.send(
        'execute',
        JSON.stringify({ projectId: 'p-other', notebookId: 'x.ipynb' }),
      ),
      good2: h().platform.send('execute', JSON.stringify({ projectId: PROJECT, notebookId: good[1] })),
    };
    await h().platform.drainQueues(15_000);
    for (const [name, field] of [
      ['badJson', 'messages.1.details.message.body'],
      ['unknownField', 'priority'],
      ['notAllowed', 'projectId'],
    ] as const) {
      const lines = await eventually(`the drop line of ${name}`, () => {
        const found = dropLines('queue', ids[name]);
        return found.length > 0 ? found : undefined;
      });
      assert.equal(lines.length, 1, `${name} logged ${lines.length} times`);
      assert.ok(
        String((lines[0]?.error as { message?: string } | undefined)?.message).startsWith(`${field}: `),
        JSON.stringify(lines[0]),
      );
    }
    for (const notebookId of good) assert.equal(h().operationsOf(notebookId).length, 1, notebookId);
    const redelivered = h().logs.entries.filter((e) => e.source === 'platform' && /redelivered/.test(e.text));
    assert.deepEqual(
      redelivered.map((e) => e.text),
      [],
    );
    assert.deepEqual(h().platform.deadLetters, []);
  });

  it('an invalid timer payload is logged with its event id and the invocation succeeds, so it is not retried', async () => {
    for (const [payload, field] of [
      ['{"projectId": ', 'messages.0.details.payload'],
      [JSON.stringify({ projectId: PROJECT }), 'notebookId'],
      [JSON.stringify({ ...valid, timeoutSeconds: -5 }), 'timeoutSeconds'],
    ] as const) {
      const event = timerEvent({ payload });
      const eventId = event.messages[0]?.event_metadata.event_id ?? '';
      const result = await h().platform.invoke('execute', event);
      assert.deepEqual(result, { ok: true, result: { messages: 1, done: 0, dropped: 1 } });
      const [line] = await eventually(`the drop line of ${eventId}`, () => {
        const found = dropLines('timer', eventId);
        return found.length > 0 ? found : undefined;
      });
      assert.equal(line?.code, 'INVALID_REQUEST');
      assert.ok(
        String((line?.error as { message?: string } | undefined)?.message).startsWith(`${field}: `),
        JSON.stringify(line),
      );
    }
  });

  it('a cancel queue message for an unknown run is dropped, not redelivered', async () => {
    const messageId = h().platform.send(
      'cancel',
      JSON.stringify({ runId: '00000000-0000-4000-8000-00000000abcd' }),
    );
    const bad = h().platform.send('cancel', '{"runId": 42}');
    await h().platform.drainQueues(15_000);
    const [line] = await eventually('the drop line', () => {
      const found = dropLines('cancel queue', messageId);
      return found.length > 0 ? found : undefined;
    });
    assert.equal(line?.code, 'RUN_NOT_FOUND');
    const [badLine] = await eventually('the drop line of the bad message', () => {
      const found = dropLines('cancel queue', bad);
      return found.length > 0 ? found : undefined;
    });
    assert.equal(badLine?.code, 'INVALID_REQUEST');
    assert.ok(String((badLine?.error as { message?: string } | undefined)?.message).startsWith('runId: '));
    assert.deepEqual(h().platform.deadLetters, []);
  });

  it('only the good queue messages reached the DataSphere API', () => {
    const executes = h().emulator.requests.filter(
      (r) => r.path.endsWith(':execute') && !r.path.includes(ARRAY_PROJECT),
    );
    assert.deepEqual(
      executes.map((r) => r.path),
      [`/datasphere/v2/projects/${PROJECT}:execute`, `/datasphere/v2/projects/${PROJECT}:execute`],
    );
  });
});

/**
 * The limits of design.md §4 on both stores: an oversized request never reaches the ledger or the API,
 * over HTTP (413 over 64 KiB of body, 400 over 16 KiB of request or 4 KiB of a variable) and from the
 * queue (dropped with a log line, never redelivered).
 */
for (const store of ['file', 'docapi'] as const) {
  const harnessOf = (): Harness => {
    const found = store === 'file' ? harness : docapiHarness;
    if (found === undefined) throw new Error('the platform did not start');
    return found;
  };
  const ledger = (): RunLedger => {
    const found = ledgers[store];
    if (found === undefined) throw new Error('no ledger');
    return found;
  };
  const request = (notebookId: string, vars: Record<string, string>) => ({
    projectId: PROJECT,
    notebookId,
    inputVariables: vars,
  });
  const MB10 = 'm'.repeat(10 * 1024 * 1024);
  const KB500 = 'k'.repeat(500 * 1024);
  const cases = [
    { name: '10 MB variable', body: request('limits/10mb.ipynb', { BIG: MB10 }), status: 413, field: 'body' },
    {
      name: '500 KB variable',
      body: request('limits/500kb.ipynb', { BIG: KB500 }),
      status: 413,
      field: 'body',
    },
    {
      name: '5000-byte variable',
      body: request('limits/5kb.ipynb', { BIG: 'v'.repeat(5000) }),
      status: 400,
      field: 'inputVariables.BIG',
    },
    {
      name: '20 KiB request',
      body: request(
        'limits/20kib.ipynb',
        Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`V${i}`, 'w'.repeat(4000)])),
      ),
      status: 400,
      field: 'inputVariables',
    },
  ] as const;

  describe(`size limits on the ${store} store: nothing stored, nothing sent`, () => {
    it('HTTP: 413 REQUEST_TOO_LARGE over 64 KiB of body, 400 naming the field over 16 KiB or 4 KiB', async () => {
      const hh = harnessOf();
      const executes = hh.executeRequests(PROJECT).length;
      for (const item of cases) {
        const key = `limits-${store}-${randomUUID()}`;
        const answer = await hh.execute(item.body, { 'Idempotency-Key': key });
        assertError(
          answer,
          item.status,
          item.status === 413 ? 'REQUEST_TOO_LARGE' : 'INVALID_REQUEST',
          item.field,
        );
        assert.equal(await ledger().get(runIdFor(`key:${key}`)), undefined, `${item.name} was stored`);
        assert.equal(hh.executeRequests(PROJECT).length, executes, `${item.name} reached the API`);
      }
    });

    it('queue: each oversized message is dropped with one log line and never redelivered', async () => {
      const hh = harnessOf();
      const executes = hh.executeRequests(PROJECT).length;
      const ids = cases.map((item) => ({ item, id: hh.platform.send('execute', JSON.stringify(item.body)) }));
      const good = hh.platform.send(
        'execute',
        JSON.stringify({ projectId: PROJECT, notebookId: `limits/${store}-good.ipynb` }),
      );
      await hh.platform.drainQueues(30_000);
      for (const { item, id } of ids) {
        const lines = await eventually(`the drop line of the ${item.name} message`, () => {
          const found = hh.logs
            .lines('queue message dropped: it can never succeed')
            .filter((line) => line.messageId === id);
          return found.length > 0 ? found : undefined;
        });
        assert.equal(lines.length, 1, `${item.name}: logged ${lines.length} times`);
        const expected = item.status === 413 ? 'REQUEST_TOO_LARGE' : 'INVALID_REQUEST';
        assert.equal(lines[0]?.code, expected, JSON.stringify(lines[0]).slice(0, 500));
        const field = item.status === 413 ? 'messages.' : item.field;
        assert.ok(
          String((lines[0]?.error as { message?: string } | undefined)?.message).startsWith(field),
          JSON.stringify(lines[0]).slice(0, 500),
        );
        assert.ok(JSON.stringify(lines[0]).length < 4000, 'the body is not logged');
        assert.equal(await ledger().get(runIdFor(`queue:${id}`)), undefined, `${item.name} was stored`);
      }
      assert.ok(await ledger().get(runIdFor(`queue:${good}`)), 'the good message started its run');
      assert.equal(hh.executeRequests(PROJECT).length, executes + 1, 'only the good message reached the API');
      const redelivered = hh.logs.entries.filter(
        (e) => e.source === 'platform' && /redelivered|dead-letter/.test(e.text),
      );
      assert.deepEqual(
        redelivered.map((e) => e.text),
        [],
      );
      assert.deepEqual(hh.platform.deadLetters, []);
    });
  });
}

describe('cancel of a run that has ended', () => {
  it('is 409 RUN_ALREADY_FINISHED with the record over HTTP; a redelivered cancel message is dropped with an info line', async () => {
    const started = await h().execute({ projectId: PROJECT, notebookId: 'malformed/ended.ipynb' });
    assert.equal(started.status, 202, started.text);
    const runId = started.json?.runId as string;
    await h().waitForStatus(runId, 'SUCCEEDED');
    const cancelled = await h().request('POST', `/runs/${runId}/cancel`);
    assertError(cancelled, 409, 'RUN_ALREADY_FINISHED');
    assert.equal(cancelled.json?.run.runId, runId);
    assert.equal(cancelled.json?.run.status, 'SUCCEEDED');
    const cancels = h().emulator.requests.filter((r) => r.path.endsWith(':cancel'));
    assert.deepEqual(cancels, [], 'no Cancel was sent');
    const messageId = h().platform.send('cancel', JSON.stringify({ runId }));
    await h().platform.drainQueues(15_000);
    const [line] = await eventually('the info line', () => {
      const found = h()
        .logs.lines('cancel message dropped: the run has already finished')
        .filter((entry) => entry.messageId === messageId);
      return found.length > 0 ? found : undefined;
    });
    assert.equal(line?.level, 'INFO');
    assert.equal(line?.runId, runId);
    const errors = h()
      .logs.entries.filter((e) => e.json?.level === 'ERROR' && e.json?.messageId === messageId)
      .map((e) => e.text);
    assert.deepEqual(errors, []);
    assert.deepEqual(h().platform.deadLetters, []);
  });
});
