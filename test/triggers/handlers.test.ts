/**
 * The three handlers in process, composed by the real function runtime (file ledger in a temp dir, the
 * API behind an undici MockAgent): HTTP edges (405, 409, 413, several errors), nothing stored or sent
 * for an invalid request, and secrets by value through the runtime's wiring (logger, answers, ledger).
 */
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MockAgent } from 'undici';
import { createHandler as createCancel } from '../../functions/cancel/handler.ts';
import { createHandler as createCheck } from '../../functions/check/handler.ts';
import { createHandler as createExecute } from '../../functions/execute/handler.ts';
import { queueEvent, timerEvent } from '../../local/cloud-events.ts';
import {
  createFunctionRuntime,
  type FunctionRuntime,
  type InvocationContext,
} from '../../shared/function-runtime.ts';
import { executeResponse, JSON_HEADERS, runningExecute } from '../api/mock-api.ts';

const DS = 'https://ds.example.test';
const OPS = 'https://ops.example.test';
// Fake tokens of shapes no redaction pattern knows.
const CONTEXT_TOKEN = 'CTX-opaque-fake-9c1e55d0a4b34e7f';
const ENV_TOKEN = 'ENV-opaque-fake-31b7a0c2d9e84f66';

interface Answer {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: read field by field, each checked by an assertion.
  json: any;
}

let dir: string;
let agent: MockAgent;
let runtime: FunctionRuntime;
let lines: string[];

function http(
  handler: (event: unknown, context?: InvocationContext) => Promise<unknown>,
  method: string,
  options: {
    body?: string;
    base64?: boolean;
    query?: Record<string, string>;
    path?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const event = {
    httpMethod: method,
    headers: { 'Content-Type': 'application/json' },
    queryStringParameters: options.query ?? {},
    ...(options.path === undefined ? {} : { pathParameters: options.path }),
    body: options.body ?? '',
    isBase64Encoded: options.base64 ?? false,
    requestContext: { requestId: crypto.randomUUID() },
  };
  const context = { requestId: 'req-1', token: { access_token: CONTEXT_TOKEN, expires_in: 3600 } };
  return handler(event, context).then((result) => {
    const answer = result as Omit<Answer, 'json'>;
    let json: unknown;
    try {
      json = JSON.parse(answer.body);
    } catch {
      json = undefined;
    }
    return { ...answer, json };
  });
}

/** Every file of the ledger, as text. */
function ledgerFiles(): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    for (const name of readdirSync(path)) {
      const full = join(path, name);
      // Locks and index markers are symbolic links: their targets are text the store wrote too.
      const stat = lstatSync(full, { throwIfNoEntry: false });
      if (stat?.isDirectory()) walk(full);
      else if (stat?.isSymbolicLink()) out.push(readlinkSync(full));
      else if (stat?.isFile()) out.push(readFileSync(full, 'utf8'));
    }
  };
  // A ledger nobody wrote to may not exist yet.
  if (statSync(join(dir, 'runs'), { throwIfNoEntry: false }) !== undefined) walk(join(dir, 'runs'));
  return out;
}

const runFiles = () => ledgerFiles().filter((text) => text.includes('"runId"'));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ds-handlers-'));
  agent = new MockAgent();
  agent.disableNetConnect();
  lines = [];
  runtime = createFunctionRuntime(
    {
      RUN_STORE: `file:${join(dir, 'runs')}`,
      ALLOWED_PROJECTS: 'p1',
      DATASPHERE_ENDPOINT: DS,
      OPERATION_ENDPOINT: OPS,
      YC_IAM_TOKEN: ENV_TOKEN,
      CHECK_FIRST_DELAY_SECONDS: '0',
    },
    { dispatcher: agent, write: (line) => lines.push(line), cwd: dir },
  );
});

afterEach(async () => {
  await runtime.close();
  await agent.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('HTTP methods: one rule for the three functions', () => {
  it('check answers every method but GET with 405 and Allow: GET; execute and cancel take POST only', async () => {
    const check = createCheck(runtime);
    for (const method of ['POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS']) {
      const answer = await http(check, method, { query: { runId: 'r1' } });
      assert.equal(answer.statusCode, 405, `${method}: ${answer.body}`);
      assert.equal(answer.headers.Allow, 'GET');
      assert.equal(answer.json?.error?.code, 'METHOD_NOT_ALLOWED');
      assert.equal(answer.json?.error?.message, `method ${method} is not allowed; use GET`);
    }
    for (const [handler, name] of [
      [createExecute(runtime, []), 'execute'],
      [createCancel(runtime), 'cancel'],
    ] as const) {
      for (const method of ['GET', 'DELETE']) {
        const answer = await http(handler, method);
        assert.equal(answer.statusCode, 405, `${name} ${method}`);
        assert.equal(answer.headers.Allow, 'POST');
        assert.equal(answer.json?.error?.code, 'METHOD_NOT_ALLOWED');
      }
    }
  });
});

describe('invalid requests: every wrong field, nothing stored, nothing sent', () => {
  it('lists all wrong fields in error.errors, the first in message and field', async () => {
    const answer = await http(createExecute(runtime, []), 'POST', {
      body: JSON.stringify({
        projectId: ' p1 ',
        timeoutSeconds: '60',
        colour: 'blue',
        retry: { attempts: 0 },
      }),
    });
    assert.equal(answer.statusCode, 400, answer.body);
    assert.deepEqual(answer.json.error, {
      code: 'INVALID_REQUEST',
      message: 'colour: is not a field of a run request',
      field: 'colour',
      errors: [
        { field: 'colour', message: 'colour: is not a field of a run request' },
        { field: 'projectId', message: 'projectId: must not contain whitespace or invisible characters' },
        { field: 'notebookId', message: 'notebookId: is required' },
        { field: 'timeoutSeconds', message: 'timeoutSeconds: must be an integer, got a string' },
        { field: 'retry.attempts', message: 'retry.attempts: must be between 1 and 10, got 0' },
      ],
    });
    assert.deepEqual(runFiles(), []);
  });

  it('answers a body over 64 KiB with 413 REQUEST_TOO_LARGE before parsing it, plain or base64', async () => {
    const big = JSON.stringify({
      projectId: 'p1',
      notebookId: 'nb',
      inputVariables: { A: 'a'.repeat(70_000) },
    });
    for (const base64 of [false, true]) {
      const answer = await http(createExecute(runtime, []), 'POST', {
        body: base64 ? Buffer.from(big).toString('base64') : big,
        base64,
      });
      assert.equal(answer.statusCode, 413, answer.body);
      assert.equal(answer.json.error.code, 'REQUEST_TOO_LARGE');
      assert.equal(answer.json.error.field, 'body');
      assert.match(answer.json.error.message, /^body: is \d+ bytes; at most 65536 bytes are accepted$/);
    }
    const cancel = await http(createCancel(runtime), 'POST', { body: `{"runId":"${'r'.repeat(70_000)}"}` });
    assert.equal(cancel.statusCode, 413);
    assert.deepEqual(runFiles(), []);
  });

  it('answers a request over 16 KiB, or a variable over 4 KiB, with 400 naming the field', async () => {
    const execute = createExecute(runtime, []);
    const variable = await http(execute, 'POST', {
      body: JSON.stringify({ projectId: 'p1', notebookId: 'nb', inputVariables: { BIG: 'b'.repeat(5000) } }),
    });
    assert.equal(variable.statusCode, 400);
    assert.equal(variable.json.error.field, 'inputVariables.BIG');
    const whole = await http(execute, 'POST', {
      body: JSON.stringify({
        projectId: 'p1',
        notebookId: 'nb',
        inputVariables: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`V${i}`, 'v'.repeat(4000)])),
      }),
    });
    assert.equal(whole.statusCode, 400);
    assert.equal(whole.json.error.field, 'inputVariables');
    assert.match(whole.json.error.message, /over the limit of 16384 bytes/);
    assert.deepEqual(runFiles(), []);
  });

  it('drops an oversized queue message and timer payload with a log line, without throwing (no redelivery)', async () => {
    const execute = createExecute(runtime, []);
    const big = JSON.stringify({ projectId: 'p1', notebookId: 'nb', x: 'a'.repeat(70_000) });
    const small = JSON.stringify({
      projectId: 'p1',
      notebookId: 'nb',
      inputVariables: { A: 'a'.repeat(5000) },
    });
    const result = await execute(queueEvent([{ body: big }, { body: small }]), {});
    assert.deepEqual(result, { messages: 2, done: 0, dropped: 2 });
    assert.deepEqual(await execute(timerEvent({ payload: big }), {}), { messages: 1, done: 0, dropped: 1 });
    const drops = lines
      .map((line) => JSON.parse(line))
      .filter((line) => /dropped: it can never succeed/.test(line.msg));
    assert.deepEqual(
      drops.map((line) => line.code),
      ['REQUEST_TOO_LARGE', 'INVALID_REQUEST', 'REQUEST_TOO_LARGE'],
    );
    assert.ok(
      drops.every((line) => !JSON.stringify(line).includes('aaaaaaaaaa')),
      'the body is not logged',
    );
    assert.deepEqual(runFiles(), []);
  });
});

describe('inputVariables named constructor and prototype reach Project.Execute as own properties', () => {
  it('sends them in the Execute body', async () => {
    let sent: unknown;
    agent
      .get(DS)
      .intercept({ path: '/datasphere/v2/projects/p1:execute', method: 'POST' })
      .reply(
        200,
        (options) => {
          sent = JSON.parse(String(options.body));
          return runningExecute('op-vars');
        },
        JSON_HEADERS,
      );
    const answer = await http(createExecute(runtime, []), 'POST', {
      body: '{"projectId":"p1","notebookId":"nb","inputVariables":{"constructor":"c","prototype":"p","A":1}}',
    });
    assert.equal(answer.statusCode, 202, answer.body);
    assert.deepEqual((sent as { inputVariables: unknown }).inputVariables, {
      constructor: 'c',
      prototype: 'p',
      A: 1,
    });
  });
});

describe('cancel of a run that has ended', () => {
  async function finishedRun(): Promise<string> {
    agent
      .get(DS)
      .intercept({ path: '/datasphere/v2/projects/p1:execute', method: 'POST' })
      .reply(200, runningExecute('op-done', { done: true, response: executeResponse(1) }), JSON_HEADERS);
    const started = await http(createExecute(runtime, []), 'POST', {
      body: JSON.stringify({ projectId: 'p1', notebookId: 'nb' }),
    });
    assert.equal(started.statusCode, 202, started.body);
    assert.equal(started.json.status, 'SUCCEEDED', started.body);
    return started.json.runId;
  }

  it('is 409 RUN_ALREADY_FINISHED with the record, and calls no API', async () => {
    const runId = await finishedRun();
    const answer = await http(createCancel(runtime), 'POST', { path: { runId } });
    assert.equal(answer.statusCode, 409, answer.body);
    assert.equal(answer.json.error.code, 'RUN_ALREADY_FINISHED');
    assert.equal(answer.json.run.runId, runId);
    assert.equal(answer.json.run.status, 'SUCCEEDED');
    assert.equal(answer.json.run.dedupeKey, undefined, 'the public record, not the stored one');
    agent.assertNoPendingInterceptors();
  });

  it('drops a redelivered cancel message for it with an info line, not an error', async () => {
    const runId = await finishedRun();
    lines.length = 0;
    const result = await createCancel(runtime)(queueEvent([{ body: JSON.stringify({ runId }) }]), {});
    assert.deepEqual(result, { messages: 1, done: 1, dropped: 0 });
    const logged = lines.map((line) => JSON.parse(line));
    assert.deepEqual(
      logged.map((line) => [line.level, line.msg, line.runId, line.status]),
      [['INFO', 'cancel message dropped: the run has already finished', runId, 'SUCCEEDED']],
    );
  });
});

describe('secrets by value through the function runtime', () => {
  it('an API that echoes the tokens back in three shapes: no answer, log line or ledger file holds them', async () => {
    agent
      .get(DS)
      .intercept({ path: '/datasphere/v2/projects/p1:execute', method: 'POST' })
      .reply((options) => {
        const auth = String((options.headers as Record<string, string>).authorization ?? '').replace(
          /^Bearer /,
          '',
        );
        return {
          statusCode: 400,
          data: {
            code: 3,
            message: `token ${auth} is not valid for '${auth}' ({"credential":"${auth}"}) nor ${ENV_TOKEN}`,
          },
        };
      })
      .times(2);
    const execute = createExecute(runtime, []);
    const answer = await http(execute, 'POST', {
      body: JSON.stringify({ projectId: 'p1', notebookId: 'nb' }),
    });
    assert.equal(answer.statusCode, 502, answer.body);
    assert.equal(answer.json.run.status, 'FAILED');
    assert.match(answer.json.error.api.apiMessage, /^token \[REDACTED\] is not valid for '\[REDACTED\]'/);
    const queued = await execute(
      queueEvent([{ body: JSON.stringify({ projectId: 'p1', notebookId: 'nb2' }) }]),
      {
        token: { access_token: CONTEXT_TOKEN },
      },
    );
    assert.deepEqual(queued, { messages: 1, done: 1, dropped: 0 });
    const files = ledgerFiles();
    assert.equal(runFiles().length, 2);
    assert.ok(
      files.some((text) => text.includes('[REDACTED]')),
      'the echoed message is stored, scrubbed',
    );
    for (const [where, text] of [
      ['answer', answer.body],
      ...lines.map((line): [string, string] => ['log', line]),
      ...files.map((text): [string, string] => ['ledger', text]),
    ]) {
      for (const secret of [CONTEXT_TOKEN, ENV_TOKEN])
        assert.ok(!text?.includes(secret), `${where}: ${text}`);
    }
  });
});
