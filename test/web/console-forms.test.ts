import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRunListQuery } from '../../shared/triggers/list-query.ts';
import type { HttpEvent } from '../../shared/triggers/trigger-event.ts';
import {
  filtersFromFragment,
  fragmentOf,
  listQuery,
  NO_FILTERS,
  PERIODS,
  runFromFragment,
  STATUS_GROUPS,
} from '../../web/page/run-query.ts';
import { startRequestOf } from '../../web/page/run-request-form.ts';
import { timelineOf } from '../../web/page/run-timeline.ts';

/** What the check function makes of a query the console sends (the real parser, not a copy). */
const parsedByServer = (query: URLSearchParams) => {
  const event: HttpEvent = {
    httpMethod: 'GET',
    queryStringParameters: Object.fromEntries(query),
    multiValueQueryStringParameters: Object.fromEntries([...query.keys()].map((k) => [k, query.getAll(k)])),
  };
  return parseRunListQuery(event);
};

describe('the console filters (web/page/run-query.ts)', () => {
  const now = new Date('2025-06-10T12:00:00Z');

  it('sends nothing for no filters, so the API applies its own window (30 days)', () => {
    assert.equal(listQuery(NO_FILTERS, now).toString(), '');
  });

  it('turns every filter into the GET /runs query the server accepts', () => {
    const query = listQuery(
      {
        ...NO_FILTERS,
        status: 'problem',
        projectId: ' p1 ',
        notebookId: 'nb.ipynb',
        job: 'nightly',
        period: '24h',
      },
      now,
    );
    assert.equal(query.get('status'), 'FAILED,TIMED_OUT');
    assert.equal(query.get('projectId'), 'p1');
    assert.equal(query.get('since'), '2025-06-09T12:00:00.000Z');
    const parsed = parsedByServer(query);
    assert.deepEqual(parsed.status, ['FAILED', 'TIMED_OUT']);
    assert.equal(parsed.projectId, 'p1');
    assert.equal(parsed.notebookId, 'nb.ipynb');
    assert.equal(parsed.job, 'nightly');
    assert.equal(parsed.since?.toISOString(), '2025-06-09T12:00:00.000Z');
  });

  it('accepts every status choice and every period on the server side', () => {
    for (const status of [...Object.keys(STATUS_GROUPS), 'RUNNING', 'CANCELLED']) {
      assert.doesNotThrow(() => parsedByServer(listQuery({ ...NO_FILTERS, status }, now)), status);
    }
    for (const period of PERIODS) {
      assert.doesNotThrow(() => parsedByServer(listQuery({ ...NO_FILTERS, period }, now)), period);
    }
  });

  it('reads From/To as whole local days, To included, and From wins over the period', () => {
    const query = listQuery({ ...NO_FILTERS, period: '1h', from: '2025-06-01', to: '2025-06-03' }, now);
    assert.equal(query.get('since'), new Date(2025, 5, 1).toISOString());
    assert.equal(query.get('until'), new Date(2025, 5, 4).toISOString());
    assert.doesNotThrow(() => parsedByServer(query));
    assert.equal(listQuery({ ...NO_FILTERS, from: 'yesterday' }, now).get('since'), null);
  });

  it('keeps filters and the open run in the address fragment, never anything else', () => {
    const filters = { ...NO_FILTERS, status: 'FAILED', projectId: 'p 1' };
    const fragment = fragmentOf(filters, 'run-1');
    assert.equal(fragment, '#status=FAILED&projectId=p+1&run=run-1');
    assert.deepEqual(filtersFromFragment(fragment), filters);
    assert.equal(runFromFragment(fragment), 'run-1');
    assert.equal(fragmentOf(NO_FILTERS), '');
    assert.equal(runFromFragment(''), undefined);
    assert.deepEqual(filtersFromFragment('#credential=secret&x=1'), NO_FILTERS);
  });
});

describe('the start form (web/page/run-request-form.ts)', () => {
  it('makes a run request of project, notebook and NAME=value lines', () => {
    assert.deepEqual(
      startRequestOf({
        projectId: ' p1 ',
        notebookId: 'nb/report.ipynb',
        variables: '# a comment\nREPORT_DATE = 2025-06-01\n\nEMPTY=\nURL=https://x/?a=b',
      }),
      {
        request: {
          projectId: 'p1',
          notebookId: 'nb/report.ipynb',
          inputVariables: { REPORT_DATE: '2025-06-01', EMPTY: '', URL: 'https://x/?a=b' },
        },
      },
    );
    assert.deepEqual(startRequestOf({ projectId: 'p1', notebookId: 'nb', variables: '  ' }), {
      request: { projectId: 'p1', notebookId: 'nb' },
    });
  });

  it('names every problem, with its line, and sends nothing', () => {
    const result = startRequestOf({
      projectId: '',
      notebookId: ' ',
      variables: 'A=1\nnot a pair\nA=2\n1X=3',
    });
    assert.deepEqual('problems' in result ? result.problems : [], [
      'project: required',
      'notebook: required',
      'variables, line 2: write NAME=value (a name of letters, digits and _)',
      'variables, line 3: A is given twice',
      'variables, line 4: write NAME=value (a name of letters, digits and _)',
    ]);
  });
});

describe('a run timeline (web/page/run-timeline.ts)', () => {
  const base = {
    runId: 'r1',
    projectId: 'p1',
    createdAt: '2025-06-01T10:00:00.000Z',
    trigger: 'schedule',
    job: { name: 'nightly' },
  };

  it('uses the record events when it has them, oldest first', () => {
    const entries = timelineOf({
      ...base,
      status: 'SUCCEEDED',
      events: [
        { at: '2025-06-01T10:05:00.000Z', type: 'finished', detail: 'SUCCEEDED' },
        { at: '2025-06-01T10:00:00.000Z', type: 'claimed' },
        { at: '2025-06-01T10:00:01.000Z', type: 'retry-scheduled', detail: 'r2' },
      ],
    });
    assert.deepEqual(
      entries.map((e) => e.what),
      ['claimed', 'retry scheduled', 'finished'],
    );
    assert.equal(entries[2]?.detail, 'SUCCEEDED');
  });

  it('tells the same story from the timestamps of a record without events', () => {
    const entries = timelineOf({
      ...base,
      status: 'CANCELLED',
      operationId: 'op1',
      executionStatus: 'ABORTED',
      startedAt: '2025-06-01T10:00:02.000Z',
      cancelRequestedAt: '2025-06-01T10:03:00.000Z',
      cancelReason: 'user',
      finishedAt: '2025-06-01T10:03:05.000Z',
    });
    assert.deepEqual(
      entries.map((e) => [e.what, e.detail]),
      [
        ['created', 'by schedule, job nightly'],
        ['started', 'operation op1'],
        ['cancel requested', 'reason: user'],
        ['finished', 'CANCELLED, execution ABORTED'],
      ],
    );
    assert.deepEqual(
      timelineOf({ runId: 'r', projectId: 'p', status: 'STARTING', createdAt: base.createdAt }).map(
        (e) => e.what,
      ),
      ['created'],
    );
  });
});
