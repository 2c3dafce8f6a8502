import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dynaliteForTestFile, freshTable } from './dynalite-for-test-file.ts';
import { docApi } from './dynalite-server.ts';
import { describeLedgerConformance, sampleRecord } from './ledger-conformance.ts';

const dynalite = dynaliteForTestFile();
const tableName = (): string => freshTable('runs');

describeLedgerConformance('Document API store on dynalite', async (observer) => {
  const table = tableName();
  const open = (extra: object = {}) => dynalite.ledger(table, extra);
  return {
    ledger: open(observer),
    second: async () => open(),
    cleanup: async () => {},
    // The item keeps its index keys; only `doc` is damaged (as a bad write or hand edit would).
    async corrupt(runId, text) {
      const endpoint = dynalite.endpoint();
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
const recording = (targets: string[]) => dynalite.recording((target) => targets.push(target));

describe('Document API store request pattern on dynalite', () => {
  it('reads due and open runs with Query on the open index, never Scan', async () => {
    const targets: string[] = [];
    const ledger = dynalite.ledger(tableName(), { dispatcher: recording(targets), pageSize: 2 });
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
    const ledger = dynalite.ledger(tableName(), { dispatcher: recording(targets) });
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
    const open = (targets: string[]) => dynalite.ledger(table, { dispatcher: recording(targets) });
    await open([]).listOpen();
    const targets: string[] = [];
    await open(targets).listOpen();
    assert.deepEqual(targets, ['DynamoDB_20120810.DescribeTable', 'DynamoDB_20120810.Query']);
  });
});
