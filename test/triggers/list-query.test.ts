import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRunnerError } from '../../shared/errors.ts';
import { errorBody } from '../../shared/triggers/error-response.ts';
import { isRunListRequest, parseRunListQuery } from '../../shared/triggers/list-query.ts';
import type { HttpEvent } from '../../shared/triggers/trigger-event.ts';

/** A GET event as the platform sends it for `?<query>` (repeated names kept, last one wins in the flat map). */
function get(query: string, extra: Partial<HttpEvent> = {}): HttpEvent {
  const params = new URLSearchParams(query);
  const flat: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [name, value] of params) {
    flat[name] = value;
    multi[name] = [...(multi[name] ?? []), value];
  }
  return {
    httpMethod: 'GET',
    headers: {},
    queryStringParameters: flat,
    multiValueQueryStringParameters: multi,
    ...extra,
  };
}

/** The error body of what parsing `query` throws. */
function errorsOf(query: string) {
  try {
    parseRunListQuery(get(query));
  } catch (error) {
    assert.ok(isRunnerError(error) && error.code === 'INVALID_REQUEST');
    return errorBody(error).error;
  }
  throw new Error(`"${query}" was accepted`);
}

describe('the run list query (GET /runs)', () => {
  it('is what a GET without runId or operationId asks for, in the path or the query', () => {
    assert.equal(isRunListRequest(get('')), true);
    assert.equal(isRunListRequest(get('status=FAILED&limit=5')), true);
    assert.equal(isRunListRequest(get('runId=r1')), false);
    assert.equal(isRunListRequest(get('operationId=op1')), false);
    assert.equal(isRunListRequest(get('', { pathParameters: { runId: 'r1' } })), false);
    assert.equal(isRunListRequest(get('', { params: { runId: 'r1' } })), false);
    assert.equal(isRunListRequest({ ...get(''), httpMethod: 'POST' }), false);
    assert.equal(isRunListRequest({ ...get(''), httpMethod: 'get' }), true);
  });

  it('parses every parameter', () => {
    assert.deepEqual(
      parseRunListQuery(
        get(
          'limit=50&cursor=abc_-1&status=failed,TIMED_OUT&projectId=p1&notebookId=a/b.ipynb&job=nightly' +
            '&trigger=Schedule&action=execute&since=2025-06-01&until=2025-06-02T08:30:00%2B03:00',
        ),
      ),
      {
        limit: 50,
        cursor: 'abc_-1',
        status: ['FAILED', 'TIMED_OUT'],
        projectId: 'p1',
        notebookId: 'a/b.ipynb',
        job: 'nightly',
        trigger: 'schedule',
        action: 'execute',
        since: new Date('2025-06-01T00:00:00Z'),
        until: new Date('2025-06-02T05:30:00Z'),
      },
    );
    assert.deepEqual(parseRunListQuery(get('')), {});
  });

  it('takes statuses repeated or comma-separated, once each', () => {
    assert.deepEqual(parseRunListQuery(get('status=FAILED&status=RUNNING,FAILED')).status, [
      'FAILED',
      'RUNNING',
    ]);
  });

  it('names every wrong parameter at once, the first also in message and field', () => {
    const error = errorsOf(
      'limit=0&status=FAILED,DONE&since=yesterday&trigger=cron&stauts=x&until=2025-13-01',
    );
    assert.equal(error.field, 'limit');
    assert.match(error.message, /^limit: must be a whole number from 1 to 100/);
    assert.deepEqual(
      error.errors?.map((e) => e.field),
      ['limit', 'status', 'since', 'trigger', 'stauts', 'until'],
    );
    const byField = Object.fromEntries((error.errors ?? []).map((e) => [e.field, e.message]));
    assert.match(byField.status ?? '', /"DONE" is not a run status/);
    assert.match(byField.stauts ?? '', /not a parameter of the run list/);
    assert.match(byField.since ?? '', /ISO 8601/);
  });

  it('refuses each kind of wrong value, naming the parameter', () => {
    const cases: [string, string][] = [
      ['limit=101', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=', 'limit'],
      ['limit=5&limit=6', 'limit'],
      ['cursor=has%20space', 'cursor'],
      [`cursor=${'a'.repeat(1025)}`, 'cursor'],
      ['status=', 'status'],
      ['status=,', 'status'],
      [`projectId=${'p'.repeat(51)}`, 'projectId'],
      [`notebookId=${'n'.repeat(201)}`, 'notebookId'],
      ['action=run', 'action'],
      ['since=2025-06-01T10:00:00', 'since'],
      ['until=1717200000', 'until'],
      ['since=2025-06-02&until=2025-06-01', 'since'],
      ['runId=', 'runId'],
    ];
    for (const [query, field] of cases) {
      assert.equal(errorsOf(query).field, field, query);
    }
  });
});
