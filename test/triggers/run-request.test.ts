import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, InvalidRequestError, isRunnerError } from '../../shared/errors.ts';
import { validateJobs } from '../../shared/schedule/jobs-file.ts';
import { errorBody } from '../../shared/triggers/error-response.ts';
import { parseMessageJson } from '../../shared/triggers/message-json.ts';
import {
  parseRunRequest,
  parseRunRequestInput,
  parseRunRequestJson,
} from '../../shared/triggers/run-request.ts';

const BASE = { projectId: 'p1', notebookId: 'nb.ipynb' };

/** The `{field, message}` list of the error `parse` throws. */
function errorsOf(value: unknown, prefix = ''): { field: string; message: string }[] {
  try {
    parseRunRequestInput(value, prefix);
  } catch (error) {
    assert.ok(error instanceof InvalidRequestError, String(error));
    return [...error.errors];
  }
  assert.fail('the request was accepted');
}

const messagesOf = (value: unknown): string[] => errorsOf(value).map((e) => e.message);

describe('the run request: action', () => {
  it('defaults to execute, and an explicit "execute" is stored as no action (same request, same hash)', () => {
    assert.deepEqual(parseRunRequestInput(BASE).request, BASE);
    assert.deepEqual(parseRunRequestInput({ action: 'execute', ...BASE }).request, BASE);
    assert.equal(
      Object.hasOwn(parseRunRequestInput({ action: 'execute', ...BASE }).request, 'action'),
      false,
    );
  });

  it('open takes only projectId, timeoutSeconds, idempotencyKey, concurrency and retry', () => {
    const parsed = parseRunRequestInput({
      action: 'open',
      projectId: 'p1',
      timeoutSeconds: 600,
      idempotencyKey: 'open-1',
      concurrency: 'skip',
      retry: {},
    });
    assert.deepEqual(parsed.request, {
      action: 'open',
      projectId: 'p1',
      timeoutSeconds: 600,
      concurrency: 'skip',
      retry: { attempts: 1, delaySeconds: 60, backoff: 2, on: ['FAILED'] },
    });
    assert.equal(parsed.idempotencyKey, 'open-1');
    assert.deepEqual(
      errorsOf({ action: 'open', projectId: 'p1', notebookId: 'nb.ipynb', dockerId: 'd1', spec: 'c1.4' }).map(
        (e) => e.field,
      ),
      ['notebookId', 'dockerId', 'spec'],
    );
    assert.match(
      messagesOf({ action: 'open', projectId: 'p1', inputVariables: {} })[0] ?? '',
      /^inputVariables: is not allowed with action "open" \(it takes only projectId, timeoutSeconds, idempotencyKey, concurrency, retry\)$/,
    );
  });

  it('activate requires dockerId and takes no notebook', () => {
    assert.deepEqual(parseRunRequestInput({ action: 'activate', projectId: 'p1', dockerId: 'd1' }).request, {
      action: 'activate',
      projectId: 'p1',
      dockerId: 'd1',
    });
    assert.deepEqual(messagesOf({ action: 'activate', projectId: 'p1' }), [
      'dockerId: is required with action "activate"',
    ]);
    assert.deepEqual(
      errorsOf({ action: 'activate', projectId: 'p1', dockerId: 'd1', notebookId: 'n' }).map((e) => e.field),
      ['notebookId'],
    );
  });

  it('execute requires notebookId; an unknown action is named and the rest is still checked', () => {
    assert.deepEqual(messagesOf({ projectId: 'p1' }), ['notebookId: is required']);
    assert.deepEqual(messagesOf({ action: 'run', projectId: 'p1', timeoutSeconds: 0 }), [
      'action: must be one of "execute", "open", "activate", got "run"',
      'timeoutSeconds: must be between 1 and 604800, got 0',
    ]);
    assert.deepEqual(messagesOf({ action: 2, ...BASE }), [
      'action: must be one of "execute", "open", "activate", got an integer',
    ]);
  });
});

describe('the run request: retry', () => {
  it('applies the defaults to what is given', () => {
    assert.deepEqual(parseRunRequestInput({ ...BASE, retry: {} }).request.retry, {
      attempts: 1,
      delaySeconds: 60,
      backoff: 2,
      on: ['FAILED'],
    });
    assert.deepEqual(
      parseRunRequestInput({ ...BASE, retry: { attempts: 3, backoff: 1.5, on: ['TIMED_OUT', 'FAILED'] } })
        .request.retry,
      { attempts: 3, delaySeconds: 60, backoff: 1.5, on: ['FAILED', 'TIMED_OUT'] },
    );
    assert.equal(parseRunRequestInput(BASE).request.retry, undefined);
  });

  it('refuses unknown members, wrong types, out-of-range values and bad statuses, all at once', () => {
    assert.deepEqual(
      messagesOf({
        ...BASE,
        retry: {
          attempts: 11,
          delaySeconds: '60',
          backoff: 0.5,
          on: ['FAILED', 'FAILED', 'CANCELLED'],
          max: 1,
        },
      }),
      [
        'retry.max: is not a field of retry (it takes attempts, delaySeconds, backoff, on)',
        'retry.attempts: must be between 1 and 10, got 11',
        'retry.delaySeconds: must be an integer, got a string',
        'retry.backoff: must be between 1 and 10, got 0.5',
        'retry.on.1: repeats "FAILED"',
        'retry.on.2: must be one of "FAILED", "TIMED_OUT", got "CANCELLED"',
      ],
    );
    assert.deepEqual(messagesOf({ ...BASE, retry: { on: [] } }), [
      'retry.on: must name at least one status ("FAILED", "TIMED_OUT")',
    ]);
    assert.deepEqual(messagesOf({ ...BASE, retry: 3 }), ['retry: must be an object, got an integer']);
    assert.deepEqual(messagesOf({ ...BASE, retry: { attempts: 0, delaySeconds: 86401 } }), [
      'retry.attempts: must be between 1 and 10, got 0',
      'retry.delaySeconds: must be between 1 and 86400, got 86401',
    ]);
  });
});

describe('the run request: concurrency', () => {
  it('takes allow, skip, queue and replace', () => {
    for (const concurrency of ['allow', 'skip', 'queue', 'replace']) {
      assert.equal(parseRunRequestInput({ ...BASE, concurrency }).request.concurrency, concurrency);
    }
    assert.deepEqual(messagesOf({ ...BASE, concurrency: 'wait' }), [
      'concurrency: must be one of "allow", "skip", "queue", "replace", got "wait"',
    ]);
  });
});

describe('the run request: several errors at once, one wording per rule', () => {
  it('lists every wrong field, unknown fields named, the first one leading', () => {
    const value = {
      projectId: 'p1',
      notebookId: '',
      timeoutSeconds: '60',
      spec: 5,
      dockerId: 'd'.repeat(51),
      concurrency: 'sometimes',
      colour: 'blue',
    };
    assert.throws(
      () => parseRunRequestInput(value),
      (error: unknown) => {
        assert.ok(error instanceof InvalidRequestError);
        assert.deepEqual(error.errors, [
          { field: 'colour', message: 'colour: is not a field of a run request' },
          { field: 'notebookId', message: 'notebookId: must be 1 to 200 characters long, got 0' },
          { field: 'dockerId', message: 'dockerId: must be 1 to 50 characters long, got 51' },
          { field: 'spec', message: 'spec: must be a string, got an integer' },
          { field: 'timeoutSeconds', message: 'timeoutSeconds: must be an integer, got a string' },
          {
            field: 'concurrency',
            message: 'concurrency: must be one of "allow", "skip", "queue", "replace", got "sometimes"',
          },
        ]);
        assert.equal(error.message, 'colour: is not a field of a run request');
        assert.equal(error.field, 'colour');
        // The HTTP body carries them all.
        const body = errorBody(error);
        assert.equal(body.error.code, 'INVALID_REQUEST');
        assert.equal(body.error.message, error.message);
        assert.equal(body.error.field, 'colour');
        assert.deepEqual(body.error.errors, error.errors);
        return true;
      },
    );
  });

  it('says the type for a type error and the range for a range error, the same way on every field', () => {
    assert.deepEqual(messagesOf({ ...BASE, timeoutSeconds: '60' }), [
      'timeoutSeconds: must be an integer, got a string',
    ]);
    assert.deepEqual(messagesOf({ ...BASE, timeoutSeconds: 1.5 }), [
      'timeoutSeconds: must be an integer, got 1.5',
    ]);
    assert.deepEqual(messagesOf({ ...BASE, timeoutSeconds: 604801 }), [
      'timeoutSeconds: must be between 1 and 604800, got 604801',
    ]);
    assert.deepEqual(messagesOf({ ...BASE, retry: { attempts: '3' } }), [
      'retry.attempts: must be an integer, got a string',
    ]);
    assert.deepEqual(messagesOf({ projectId: 7, notebookId: null, sparkConnectorId: [] }), [
      'projectId: must be a string, got an integer',
      'notebookId: must be a string, got null',
      'sparkConnectorId: must be a string, got an array',
    ]);
    assert.deepEqual(messagesOf({ ...BASE, inputVariables: 'A=1', outputVariableNames: {} }), [
      'inputVariables: must be an object, got a string',
      'outputVariableNames: must be an array, got an object',
    ]);
  });

  it('answers a body that is not an object with one error naming the body', () => {
    assert.deepEqual(messagesOf([BASE]), ['body: must be a JSON object (a run request), got an array']);
    assert.deepEqual(errorsOf(null, 'jobs.x.run'), [
      { field: 'jobs.x.run', message: 'jobs.x.run: must be a JSON object (a run request), got null' },
    ]);
  });

  it('refuses inputVariables given as an array, naming inputVariables', () => {
    for (const inputVariables of [[], ['A=1']]) {
      assert.deepEqual(messagesOf({ ...BASE, inputVariables }), [
        'inputVariables: must be an object, got an array',
      ]);
    }
  });
});

describe('the run request: ids are refused, never trimmed', () => {
  it('refuses a projectId with surrounding or invisible whitespace like any other invalid id', () => {
    for (const projectId of [' p1 ', 'p1 ', '\u00a0p1\ufeff', 'p\u200b1', 'p\t1']) {
      assert.deepEqual(
        messagesOf({ ...BASE, projectId }),
        ['projectId: must not contain whitespace or invisible characters'],
        JSON.stringify(projectId),
      );
    }
    for (const [field, value] of [
      ['dockerId', ' d1'],
      ['sparkConnectorId', 'c1\n'],
      ['idempotencyKey', ' key'],
    ] as const) {
      assert.deepEqual(messagesOf({ ...BASE, [field]: value }), [
        `${field}: must not contain whitespace or invisible characters`,
      ]);
    }
  });

  it('lets a notebook path have inner spaces but not surrounding ones', () => {
    assert.equal(
      parseRunRequestInput({ ...BASE, notebookId: 'my work/nb 1.ipynb' }).request.notebookId,
      'my work/nb 1.ipynb',
    );
    assert.deepEqual(messagesOf({ ...BASE, notebookId: ' nb.ipynb' }), [
      'notebookId: must not begin or end with whitespace or invisible characters',
    ]);
    assert.deepEqual(messagesOf({ ...BASE, notebookId: 'nb.ipynb\ufeff' }), [
      'notebookId: must not begin or end with whitespace or invisible characters',
    ]);
  });
});

describe('the run request: inputVariables named __proto__, constructor, prototype', () => {
  it('passes constructor and prototype through as own properties', () => {
    const parsed = parseRunRequestInput(
      JSON.parse(
        '{"projectId":"p1","notebookId":"nb","inputVariables":{"constructor":"c","prototype":2,"A":true}}',
      ),
    );
    const vars = parsed.request.inputVariables ?? {};
    assert.deepEqual(Object.keys(vars), ['constructor', 'prototype', 'A']);
    assert.equal(Object.hasOwn(vars, 'constructor'), true);
    assert.equal(vars.constructor, 'c');
    assert.equal(vars.prototype, 2);
    assert.equal(Object.getPrototypeOf(vars), Object.prototype);
    assert.equal(JSON.stringify(vars), '{"constructor":"c","prototype":2,"A":true}');
  });

  it('refuses __proto__ by name instead of dropping it silently', () => {
    const value = JSON.parse(
      '{"projectId":"p1","notebookId":"nb","inputVariables":{"__proto__":"x","A":"1"}}',
    );
    assert.deepEqual(messagesOf(value), [
      'inputVariables.__proto__: is a reserved name (JavaScript gives it a special meaning); choose another name',
    ]);
    // A top-level __proto__ is an unknown field like any other, not a way around the checks.
    assert.deepEqual(
      messagesOf(JSON.parse('{"projectId":"p1","notebookId":"nb","__proto__":{"timeoutSeconds":"x"}}')),
      ['__proto__: is not a field of a run request'],
    );
  });

  it('names a variable that is not a variable name', () => {
    assert.deepEqual(messagesOf({ ...BASE, inputVariables: { '1A': 'x', 'a b': 'y' } }), [
      'inputVariables.1A: is not a variable name (a letter or _, then letters, digits or _, at most 128 characters)',
      'inputVariables["a b"]: is not a variable name (a letter or _, then letters, digits or _, at most 128 characters)',
    ]);
    assert.deepEqual(messagesOf({ ...BASE, inputVariables: { MODE: { nested: true } } }), [
      'inputVariables.MODE: must be a string, a number or a boolean, got an object',
    ]);
  });
});

describe('the run request: size limits', () => {
  it('refuses an inputVariables value over 4 KiB, naming the variable', () => {
    assert.equal(
      parseRunRequestInput({
        ...BASE,
        inputVariables: { A: 'a'.repeat(4096) },
      }).request.inputVariables?.A?.toString().length,
      4096,
    );
    assert.deepEqual(messagesOf({ ...BASE, inputVariables: { A: 'a'.repeat(4097) } }), [
      'inputVariables.A: must be at most 4096 bytes (UTF-8), got 4097',
    ]);
    // Bytes, not characters: 1366 × "я" is 2732 bytes, 2100 × "я" is 4200.
    assert.deepEqual(messagesOf({ ...BASE, inputVariables: { A: 'я'.repeat(2100) } }), [
      'inputVariables.A: must be at most 4096 bytes (UTF-8), got 4200',
    ]);
  });

  it('refuses a run request over 16 KiB of JSON, naming its largest field', () => {
    const inputVariables = Object.fromEntries(
      Array.from({ length: 5 }, (_, i) => [`V${i}`, 'x'.repeat(4000)]),
    );
    const messages = messagesOf({ ...BASE, inputVariables });
    assert.equal(messages.length, 1);
    assert.match(
      messages[0] ?? '',
      /^inputVariables: makes the run request \d+ bytes of JSON, over the limit of 16384 bytes \(this field is its largest part\)$/,
    );
    // Whitespace around the JSON does not count; the re-serialised request does.
    const fits = {
      ...BASE,
      inputVariables: { A: 'x'.repeat(4000), B: 'y'.repeat(4000), C: 'z'.repeat(4000) },
    };
    assert.ok(parseRunRequestJson(JSON.stringify(fits, null, 8), 'body'));
  });

  it('refuses a 10 MB variable with both limits named, the variable first', () => {
    const errors = errorsOf({ ...BASE, inputVariables: { BIG: 'b'.repeat(10 * 1024 * 1024) } });
    assert.deepEqual(
      errors.map((e) => e.field),
      ['inputVariables.BIG', 'inputVariables'],
    );
    assert.equal(
      errors[0]?.message,
      `inputVariables.BIG: must be at most 4096 bytes (UTF-8), got ${10 * 1024 * 1024}`,
    );
  });

  it('refuses a trigger message body over 64 KiB before parsing it, as REQUEST_TOO_LARGE', () => {
    const body = `{"projectId":"p1","notebookId":"nb","x":"${'a'.repeat(70_000)}"`; // not even JSON
    assert.throws(
      () => parseRunRequestJson(body, 'messages.0.details.message.body'),
      (error: unknown) => {
        assert.ok(isRunnerError(error));
        assert.equal(error.code, 'REQUEST_TOO_LARGE');
        assert.match(
          error.message,
          /^messages\.0\.details\.message\.body: is 70\d{3} bytes; at most 65536 bytes are accepted$/,
        );
        return true;
      },
    );
    assert.deepEqual(parseMessageJson('{"runId":"r1"}', 'body'), { runId: 'r1' });
  });

  it('refuses a structure too deep to measure without crashing', () => {
    const deep = JSON.parse(
      `{"projectId":"p1","notebookId":"nb","x":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
    );
    const messages = messagesOf(deep);
    assert.deepEqual(messages, ['x: is not a field of a run request', 'x: is nested too deeply']);
  });
});

describe('the jobs file with the real validator', () => {
  it('still names the job and the field, for each wrong field', () => {
    assert.throws(
      () =>
        validateJobs(
          {
            jobs: {
              nightly: {
                schedule: '0 3 ? * *',
                run: { projectId: ' p1', notebookId: 'n', timeoutSeconds: 'x' },
              },
            },
          },
          { parseRunRequest },
        ),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.setting, 'jobs.nightly.run.projectId');
        assert.equal(
          error.message,
          'jobs.nightly.run.projectId: must not contain whitespace or invisible characters',
        );
        return true;
      },
    );
    assert.deepEqual(
      validateJobs(
        { jobs: { morning: { schedule: '0 7 ? * *', run: { action: 'open', projectId: 'p1' } } } },
        { parseRunRequest },
      )[0]?.run,
      { action: 'open', projectId: 'p1' },
    );
  });
});
