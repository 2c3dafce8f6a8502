import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Agent, type Dispatcher } from 'undici';
import { createDocApiLedger } from '../../shared/ledger/docapi-store.ts';
import { docApi, startDynalite, TEST_KEYS } from './dynalite-server.ts';
import { describeLedgerConformance, sampleRecord } from './ledger-conformance.ts';

let server: { endpoint: string; close(): Promise<void> } | undefined;
let agent: Agent | undefined;

before(async () => {
  server = await startDynalite();
  agent = new Agent({ keepAliveTimeout: 1_000 });
});

after(async () => {
  await agent?.close();
  await server?.close();
});

const tableName = (): string => `runs_${randomUUID().slice(0, 8)}`;

describeLedgerConformance('Document API store on dynalite', async (observer) => {
  const table = tableName();
  const open = (extra: object = {}) =>
    createDocApiLedger({
      endpoint: server?.endpoint ?? '',
      table,
      dispatcher: agent as Agent,
      auth: TEST_KEYS,
      ...extra,
    });
  return {
    ledger: open(observer),
    second: async () => open(),
    cleanup: async () => {},
    // The item keeps its index keys; only `doc` is damaged (as a bad write or hand edit would).
    async corrupt(runId, text) {
      const endpoint = server?.endpoint ?? '';
      const got = (await docApi(endpoint, 'GetItem', {
        TableName: table,
        Key: { pk: { S: `run#${runId}` } },
        ConsistentRead: true,
      })) as { Item: Record<string, unknown> };
      await docApi(endpoint, 'PutItem', { TableName: table, Item: { ...got.Item, doc: { S: text } } });
    },
  };
});

/** A dispatcher that notes the X-Amz-Target of every request it passes on. */
function recording(targets: string[]): Dispatcher {
  return (agent as Agent).compose((dispatch) => (opts, handler) => {
    const headers = opts.headers as Record<string, string> | undefined;
    targets.push(headers?.['x-amz-target'] ?? '?');
    return dispatch(opts, handler);
  });
}

describe('Document API store request pattern on dynalite', () => {
  it('reads due and open runs with Query on the open index, never Scan', async () => {
    const targets: string[] = [];
    const ledger = createDocApiLedger({
      endpoint: server?.endpoint ?? '',
      table: tableName(),
      dispatcher: recording(targets),
      auth: TEST_KEYS,
      pageSize: 2,
    });
    const records = Array.from({ length: 5 }, (_, i) =>
      sampleRecord({ nextCheckAt: new Date(Date.UTC(2030, 0, 1, 0, i)).toISOString() }),
    );
    for (const r of records) await ledger.create(r);
    const { nextCheckAt: _n, ...finishedFields } = sampleRecord();
    await ledger.create({ ...finishedFields, status: 'SUCCEEDED' });
    targets.length = 0;

    const due = await ledger.listDue(new Date(Date.UTC(2030, 0, 1, 0, 3)), 3);
    assert.deepEqual(
      due.map((r) => r.runId),
      records.slice(0, 3).map((r) => r.runId),
    );
    assert.equal((await ledger.listOpen()).length, 5);
    assert.ok(targets.length >= 4, `paged: ${targets.join(', ')}`);
    assert.deepEqual(new Set(targets), new Set(['DynamoDB_20120810.Query']));
  });

  it('creates its table once per instance, on first use, then only reads and writes items', async () => {
    const targets: string[] = [];
    const ledger = createDocApiLedger({
      endpoint: server?.endpoint ?? '',
      table: tableName(),
      dispatcher: recording(targets),
      auth: TEST_KEYS,
    });
    assert.equal(targets.length, 0);
    const record = sampleRecord();
    await Promise.all([ledger.get(record.runId), ledger.create(record)]);
    await ledger.update({ ...record, checks: 1 });
    const actions = targets.map((t) => t.replace('DynamoDB_20120810.', ''));
    assert.equal(actions.filter((a) => a === 'CreateTable').length, 1);
    assert.equal(actions[0], 'DescribeTable');
    const afterReady = actions.slice(actions.lastIndexOf('DescribeTable') + 1);
    // create: the history entry, then the run item; update: the run item.
    assert.deepEqual(afterReady.sort(), ['GetItem', 'PutItem', 'PutItem', 'PutItem']);
  });

  it('uses a table that already exists without creating it again', async () => {
    const table = tableName();
    const open = (targets: string[]) =>
      createDocApiLedger({
        endpoint: server?.endpoint ?? '',
        table,
        dispatcher: recording(targets),
        auth: TEST_KEYS,
      });
    await open([]).listOpen();
    const targets: string[] = [];
    await open(targets).listOpen();
    assert.deepEqual(targets, ['DynamoDB_20120810.DescribeTable', 'DynamoDB_20120810.Query']);
  });
});
