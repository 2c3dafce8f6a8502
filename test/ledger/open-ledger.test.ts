import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MockAgent } from 'undici';
import { openLedger } from '../../shared/ledger/open-ledger.ts';
import { sampleRecord } from './ledger-conformance.ts';

describe('openLedger', () => {
  it('opens the file store for a file spec and touches the disk only on first use', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ledger-open-'));
    const agent = new MockAgent();
    agent.disableNetConnect();
    try {
      const ledger = openLedger({ kind: 'file', dir }, { dispatcher: agent });
      assert.deepEqual(await readdir(dir), []);
      const record = sampleRecord();
      await ledger.create(record);
      assert.deepEqual(await ledger.get(record.runId), record);
    } finally {
      await agent.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('opens the Document API store for a docapi spec, sending nothing until first use', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const targets: string[] = [];
    agent
      .get('https://docapi.example.test')
      .intercept({ path: '/ru-central1/c/d', method: 'POST' })
      .reply((opts) => {
        const target = (opts.headers as Record<string, string>)['x-amz-target'] ?? '';
        targets.push(`${target} ${JSON.parse(String(opts.body)).TableName}`);
        const data = target.endsWith('DescribeTable')
          ? { Table: { TableStatus: 'ACTIVE', GlobalSecondaryIndexes: [{ IndexName: 'open-index' }] } }
          : {};
        return { statusCode: 200, data: JSON.stringify(data) };
      })
      .persist();
    try {
      const ledger = openLedger(
        {
          kind: 'docapi',
          endpoint: 'https://docapi.example.test/ru-central1/c/d',
          table: 'my_runs',
          auth: { kind: 'bearer', token: async () => 't1.test-token' },
        },
        { dispatcher: agent },
      );
      assert.deepEqual(targets, []);
      assert.equal(await ledger.get('r1'), undefined);
      assert.deepEqual(targets, [
        'DynamoDB_20120810.DescribeTable my_runs',
        'DynamoDB_20120810.GetItem my_runs',
      ]);
    } finally {
      await agent.close();
    }
  });
});
