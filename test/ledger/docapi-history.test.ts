import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MockAgent } from 'undici';
import { isRunnerError } from '../../shared/errors.ts';
import { createDocApiLedger, type DocApiLedgerOptions } from '../../shared/ledger/docapi-store.ts';
import { dynaliteForTestFile, freshTable } from './dynalite-for-test-file.ts';
import { docApi } from './dynalite-server.ts';
import { sampleRecord } from './ledger-conformance.ts';

// The history of the Document API store: what it asks the service, and a table made by the previous
// version (only the open index).

const T0 = Date.parse('2030-05-01T12:00:00.000Z');
const DAY = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString();

const dynalite = dynaliteForTestFile();

interface Sent {
  readonly action: string;
  readonly body: Record<string, unknown>;
}

/** A ledger on `table` of the file's dynalite that notes the action and JSON body of every request. */
function recordingLedger(table: string, sent: Sent[]) {
  const dispatcher = dynalite.recording((target, body) =>
    sent.push({
      action: target.replace('DynamoDB_20120810.', ''),
      body: JSON.parse(body) as Record<string, unknown>,
    }),
  );
  return dynalite.ledger(table, { dispatcher });
}

/** One raw, signed Document API call to dynalite (to build a table the way an old version did). */
const rawCall = async (action: string, payload: object) =>
  (await docApi(dynalite.endpoint(), action, payload)) as Record<string, unknown>;

const tableName = (): string => freshTable('hist');

describe('Document API store history on dynalite', () => {
  it('reads the history only with Query on the history index, one per day, and BatchGetItem: never Scan', async () => {
    const sent: Sent[] = [];
    const ledger = recordingLedger(tableName(), sent);
    // 12 runs over 4 days, and one outside the window.
    const records = Array.from({ length: 12 }, (_, i) =>
      sampleRecord({ createdAt: iso(T0 - i * 8 * 3_600_000) }),
    );
    for (const r of [...records, sampleRecord({ createdAt: iso(T0 - 20 * DAY) })]) await ledger.create(r);
    sent.length = 0;

    const page = await ledger.listRuns({
      since: new Date(T0 - 4 * DAY + 1),
      until: new Date(T0 + 1),
      limit: 100,
      scanLimit: 500,
      dayLimit: 32,
    });
    assert.deepEqual(
      page.runs.map((r) => r.runId),
      records.map((r) => r.runId),
    );
    assert.equal(page.next, undefined);
    const actions = sent.map((s) => s.action);
    assert.ok(!actions.includes('Scan'));
    assert.deepEqual([...new Set(actions)].sort(), ['BatchGetItem', 'DescribeTable', 'Query']);
    const queries = sent.filter((s) => s.action === 'Query');
    // The window touches 5 UTC days (T0 is noon): one Query each, newest first.
    assert.deepEqual(
      queries.map((q) => (q.body.ExpressionAttributeValues as Record<string, { S: string }>)[':d']?.S),
      ['2030-05-01', '2030-04-30', '2030-04-29', '2030-04-28', '2030-04-27'],
    );
    for (const q of queries) {
      assert.equal(q.body.IndexName, 'history-index');
      assert.equal(q.body.ScanIndexForward, false);
      assert.equal(q.body.KeyConditionExpression, '#d = :d AND #c BETWEEN :lo AND :hi');
    }
    // Without filters the store reads exactly what it answers: Limit = what is still missing.
    assert.deepEqual(
      queries.map((q) => q.body.Limit),
      [100, 98, 95, 92, 89],
    );
    const batch = sent.filter((s) => s.action === 'BatchGetItem');
    const keys = batch.flatMap(
      (b) =>
        (b.body.RequestItems as Record<string, { Keys: unknown[]; ConsistentRead: boolean }>)[
          Object.keys(b.body.RequestItems as object)[0] ?? ''
        ]?.Keys ?? [],
    );
    assert.equal(keys.length, 12);
  });

  it('continues after a position by reading its entry once more and skipping it', async () => {
    const sent: Sent[] = [];
    const ledger = recordingLedger(tableName(), sent);
    const records = Array.from({ length: 6 }, (_, i) =>
      sampleRecord({ createdAt: iso(T0 - 1000 - (i % 2)) }),
    );
    for (const r of records) await ledger.create(r);
    const window = { since: new Date(T0 - DAY / 2), until: new Date(T0), scanLimit: 500, dayLimit: 32 };
    const first = await ledger.listRuns({ ...window, limit: 4 });
    assert.ok(first.next !== undefined);
    sent.length = 0;
    const second = await ledger.listRuns({ ...window, limit: 4, after: first.next });
    const all = [...first.runs, ...second.runs].map((r) => r.runId);
    assert.equal(new Set(all).size, 6);
    assert.equal(second.next, undefined);
    const query = sent.find((s) => s.action === 'Query');
    assert.equal(query?.body.Limit, 5);
  });

  it('keeps working on a table made by the previous version, and says how to add the history index', async () => {
    const table = tableName();
    // The previous version's table: only the open index.
    await rawCall('CreateTable', {
      TableName: table,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'openShard', AttributeType: 'S' },
        { AttributeName: 'nextCheckAt', AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: [
        {
          IndexName: 'open-index',
          KeySchema: [
            { AttributeName: 'openShard', KeyType: 'HASH' },
            { AttributeName: 'nextCheckAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
    for (let i = 0; i < 100; i += 1) {
      const description = (await rawCall('DescribeTable', { TableName: table })).Table as {
        TableStatus: string;
      };
      if (description.TableStatus === 'ACTIVE') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const sent: Sent[] = [];
    const ledger = recordingLedger(table, sent);
    // Starts, updates and the sweep do not need the history index.
    const record = sampleRecord({ createdAt: iso(T0 - 1000) });
    await ledger.create(record);
    const v2 = await ledger.update({ ...record, status: 'RUNNING', operationId: 'op-1' });
    assert.deepEqual(await ledger.listDue(new Date(T0), 10), [v2]);
    assert.ok(!sent.some((s) => s.action === 'UpdateTable'));

    // The history asks UpdateTable to add its index; dynalite accepts it but builds nothing.
    await assert.rejects(
      ledger.listRuns({
        since: new Date(T0 - DAY),
        until: new Date(T0),
        limit: 10,
        scanLimit: 10,
        dayLimit: 2,
      }),
      (error) => {
        assert.ok(isRunnerError(error));
        assert.equal(error.code, 'LEDGER_ERROR');
        assert.match(error.message, new RegExp(`table ${table} has no history-index index`));
        assert.match(error.message, /Add it with UpdateTable/);
        assert.match(error.message, /RUN_STORE_TABLE/);
        return true;
      },
    );
    const update = sent.find((s) => s.action === 'UpdateTable');
    assert.deepEqual(update?.body, {
      TableName: table,
      AttributeDefinitions: [
        { AttributeName: 'day', AttributeType: 'S' },
        { AttributeName: 'created', AttributeType: 'S' },
      ],
      GlobalSecondaryIndexUpdates: [
        {
          Create: {
            IndexName: 'history-index',
            KeySchema: [
              { AttributeName: 'day', KeyType: 'HASH' },
              { AttributeName: 'created', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        },
      ],
    });
    // Still serving everything else.
    assert.deepEqual(await ledger.get(record.runId), v2);
  });
});

describe('Document API store history on the wire', () => {
  const ORIGIN = 'https://docapi.example.test';
  const PATH = '/ru-central1/b1gtestcloud/etntestdb';
  const JSON_HEADERS = { headers: { 'content-type': 'application/x-amz-json-1.0' } };
  let mock: MockAgent;
  const sleeps: number[] = [];

  beforeEach(() => {
    mock = new MockAgent();
    mock.disableNetConnect();
    sleeps.length = 0;
  });
  afterEach(async () => {
    await mock.close();
  });

  function fake(answer: (action: string, body: Record<string, unknown>, n: number) => unknown): Sent[] {
    const sent: Sent[] = [];
    mock
      .get(ORIGIN)
      .intercept({ path: PATH, method: 'POST' })
      .reply((opts) => {
        const headers = opts.headers as Record<string, string>;
        const action = (headers['x-amz-target'] ?? '').replace('DynamoDB_20120810.', '');
        const body = JSON.parse(String(opts.body)) as Record<string, unknown>;
        sent.push({ action, body });
        const result = answer(action, body, sent.filter((s) => s.action === action).length);
        const error = result as { __type?: string };
        return {
          statusCode: typeof error.__type === 'string' ? 400 : 200,
          data: JSON.stringify(result),
          responseOptions: JSON_HEADERS,
        };
      })
      .persist();
    return sent;
  }

  const ledgerWith = (overrides: Partial<DocApiLedgerOptions> = {}) =>
    createDocApiLedger({
      endpoint: `${ORIGIN}${PATH}`,
      dispatcher: mock,
      auth: { kind: 'bearer', token: async () => 't1.test-token' },
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
      ...overrides,
    });

  const table = (indexes: { IndexName: string; IndexStatus?: string }[]) => ({
    Table: { TableName: 'datasphere_runs', TableStatus: 'ACTIVE', GlobalSecondaryIndexes: indexes },
  });
  const QUERY = { since: new Date(T0 - DAY / 4), until: new Date(T0), limit: 5, scanLimit: 50, dayLimit: 3 };

  it('answers "being built" while the added index is not ACTIVE, then reads once it is', async () => {
    let describes = 0;
    const sent = fake((action) => {
      if (action === 'DescribeTable') {
        describes += 1;
        if (describes <= 2) return table([{ IndexName: 'open-index' }]);
        if (describes <= 4)
          return table([
            { IndexName: 'open-index' },
            { IndexName: 'history-index', IndexStatus: 'CREATING' },
          ]);
        return table([{ IndexName: 'open-index' }, { IndexName: 'history-index', IndexStatus: 'ACTIVE' }]);
      }
      if (action === 'Query') return { Items: [] };
      return {};
    });
    const ledger = ledgerWith();
    await assert.rejects(ledger.listRuns(QUERY), /history-index index is being built \(CREATING\)/);
    await assert.rejects(ledger.listRuns(QUERY), /being built/);
    assert.deepEqual(await ledger.listRuns(QUERY), { runs: [], next: undefined, unreadable: [] });
    assert.deepEqual(await ledger.listRuns(QUERY), { runs: [], next: undefined, unreadable: [] });
    assert.deepEqual(
      sent.map((s) => s.action),
      [
        'DescribeTable', // ready(): the table, with only the open index, is ACTIVE
        'DescribeTable',
        'UpdateTable',
        'DescribeTable',
        'DescribeTable',
        'DescribeTable',
        'Query',
        'Query',
      ],
    );
  });

  it('names UpdateTable failing and the way out when the index cannot be added', async () => {
    fake((action) =>
      action === 'DescribeTable'
        ? table([{ IndexName: 'open-index' }])
        : { __type: 'com.amazonaws.dynamodb.v20120810#ValidationException', message: 'not allowed here' },
    );
    await assert.rejects(ledgerWith().listRuns(QUERY), (error) => {
      assert.ok(isRunnerError(error));
      assert.match(error.message, /adding it failed: .*UpdateTable.*ValidationException.*not allowed here/);
      assert.match(error.message, /RUN_STORE_TABLE/);
      return true;
    });
  });

  it('retries keys BatchGetItem left unprocessed, and reports a record it cannot read', async () => {
    const good = sampleRecord({ createdAt: iso(T0 - 1000) });
    const bad = sampleRecord({ createdAt: iso(T0 - 2000) });
    const entry = (r: typeof good) => ({
      pk: { S: `hist#${r.runId}` },
      day: { S: '2030-05-01' },
      created: { S: `${r.createdAt}#${r.runId}` },
      runId: { S: r.runId },
      projectId: { S: r.projectId },
      trigger: { S: r.trigger },
    });
    const sent = fake((action, body, n) => {
      if (action === 'Query') return { Items: [entry(good), entry(bad)] };
      if (action !== 'BatchGetItem') return {};
      const keys =
        (body.RequestItems as Record<string, { Keys: { pk: { S: string } }[] }>).datasphere_runs?.Keys ?? [];
      if (n === 1) {
        return {
          Responses: { datasphere_runs: [] },
          UnprocessedKeys: { datasphere_runs: { Keys: keys, ConsistentRead: true } },
        };
      }
      return {
        Responses: {
          datasphere_runs: [
            { pk: { S: `run#${bad.runId}` }, doc: { S: '{not json' } },
            { pk: { S: `run#${good.runId}` }, doc: { S: JSON.stringify(good) } },
          ],
        },
      };
    });
    const page = await ledgerWith({ createTable: false }).listRuns({
      ...QUERY,
      since: new Date(T0 - DAY / 2),
    });
    assert.deepEqual(page.runs, [good]);
    assert.equal(page.unreadable.length, 1);
    assert.equal(page.unreadable[0]?.ref, bad.runId);
    assert.deepEqual(
      sent.map((s) => s.action),
      ['Query', 'BatchGetItem', 'BatchGetItem'],
    );
    assert.equal(sleeps.length, 1);
  });

  it('puts the history entry back with the stored createdAt when it loses a create race', async () => {
    const stored = sampleRecord({ createdAt: iso(T0 - 5_000) });
    const sent = fake((action, body) => {
      const pk = ((body.Item as Record<string, { S: string }> | undefined)?.pk ?? { S: '' }).S;
      if (action === 'PutItem' && pk.startsWith('run#')) {
        return {
          __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
          message: 'exists',
        };
      }
      if (action === 'GetItem') {
        return {
          Item: { pk: { S: `run#${stored.runId}` }, doc: { S: JSON.stringify(stored) }, wt: { S: 'x' } },
        };
      }
      return {};
    });
    const mine = { ...stored, createdAt: iso(T0 - 1_000) };
    assert.deepEqual(await ledgerWith({ createTable: false }).create(mine), {
      created: false,
      record: stored,
    });
    const historyPuts = sent
      .filter((s) => s.action === 'PutItem')
      .map((s) => (s.body.Item as Record<string, { S: string }>).created?.S)
      .filter((created) => created !== undefined);
    assert.deepEqual(historyPuts, [
      `${mine.createdAt}#${stored.runId}`,
      `${stored.createdAt}#${stored.runId}`,
    ]);
  });
});
