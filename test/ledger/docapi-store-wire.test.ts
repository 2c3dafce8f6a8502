import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MockAgent } from 'undici';
import { isRunnerError, RunnerError } from '../../shared/errors.ts';
import { createDocApiLedger, type DocApiLedgerOptions } from '../../shared/ledger/docapi-store.ts';
import { sampleRecord } from './ledger-conformance.ts';

const ORIGIN = 'https://docapi.example.test';
const PATH = '/ru-central1/b1gtestcloud/etntestdb';
const ENDPOINT = `${ORIGIN}${PATH}`;
const TOKEN = 't1.test-token';
const JSON_HEADERS = { headers: { 'content-type': 'application/x-amz-json-1.0' } };
const ACTIVE_TABLE = {
  Table: {
    TableName: 'datasphere_runs',
    TableStatus: 'ACTIVE',
    GlobalSecondaryIndexes: [{ IndexName: 'open-index', IndexStatus: 'ACTIVE' }],
  },
};

interface Seen {
  readonly action: string;
  readonly headers: Record<string, string>;
  readonly body: Record<string, unknown>;
}
type Answer = { status: number; json: unknown } | Error;

/** A scripted Document API: `answer` decides each reply; every request is noted in `seen`. */
function fakeDocApi(agent: MockAgent, answer: (req: Seen, seen: readonly Seen[]) => Answer): Seen[] {
  const seen: Seen[] = [];
  const pool = agent.get(ORIGIN);
  pool
    .intercept({ path: PATH, method: 'POST' })
    .reply((opts) => {
      const headers = Object.fromEntries(
        Object.entries((opts.headers ?? {}) as Record<string, string>).map(([k, v]) => [
          k.toLowerCase(),
          String(v),
        ]),
      );
      const req: Seen = {
        action: (headers['x-amz-target'] ?? '').replace('DynamoDB_20120810.', ''),
        headers,
        body: JSON.parse(String(opts.body)) as Record<string, unknown>,
      };
      seen.push(req);
      const result = answer(req, seen);
      if (result instanceof Error) throw result;
      return { statusCode: result.status, data: JSON.stringify(result.json), responseOptions: JSON_HEADERS };
    })
    .persist();
  return seen;
}

const awsError = (type: string, message = 'nope', status = 400): Answer => ({
  status,
  json: { __type: `com.amazonaws.dynamodb.v20120810#${type}`, message },
});
const ok = (json: unknown = {}): Answer => ({ status: 200, json });
/** The `pk` of the item a PutItem writes ('' for other actions). */
const pkOf = (req: Seen): string => ((req.body.Item as Record<string, { S: string }>)?.pk ?? { S: '' }).S;

describe('Document API store on the wire', () => {
  let agent: MockAgent;
  const sleeps: number[] = [];

  beforeEach(() => {
    agent = new MockAgent();
    agent.disableNetConnect();
    sleeps.length = 0;
  });

  afterEach(async () => {
    await agent.close();
  });

  const ledgerWith = (overrides: Partial<DocApiLedgerOptions> = {}) =>
    createDocApiLedger({
      endpoint: ENDPOINT,
      dispatcher: agent,
      auth: { kind: 'bearer', token: async () => TOKEN },
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
      ...overrides,
    });

  it('sends the IAM token as a bearer and the DynamoDB JSON headers in bearer mode', async () => {
    const seen = fakeDocApi(agent, (req) => (req.action === 'DescribeTable' ? ok(ACTIVE_TABLE) : ok({})));
    assert.equal(await ledgerWith().get('r1'), undefined);
    assert.deepEqual(
      seen.map((s) => s.action),
      ['DescribeTable', 'GetItem'],
    );
    for (const req of seen) {
      assert.equal(req.headers.authorization, `Bearer ${TOKEN}`);
      assert.equal(req.headers['content-type'], 'application/x-amz-json-1.0');
      assert.equal(req.headers['x-amz-date'], undefined);
    }
    assert.deepEqual(seen[1]?.body, {
      TableName: 'datasphere_runs',
      Key: { pk: { S: 'run#r1' } },
      ConsistentRead: true,
    });
  });

  it('signs with SigV4 for ru-central1/dynamodb over the endpoint path when given static keys', async () => {
    const seen = fakeDocApi(agent, (req) => (req.action === 'DescribeTable' ? ok(ACTIVE_TABLE) : ok({})));
    const ledger = ledgerWith({
      auth: { kind: 'sigv4', accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
      table: 'dir/runs',
    });
    await ledger.get('r1');
    for (const req of seen) {
      assert.match(
        req.headers.authorization ?? '',
        /^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/ru-central1\/dynamodb\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*x-amz-target[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
      );
      assert.match(req.headers['x-amz-date'] ?? '', /^\d{8}T\d{6}Z$/);
      assert.ok(!JSON.stringify(req.headers).includes('test-secret'));
      assert.equal(req.body.TableName, 'dir/runs');
    }
  });

  it('creates the table with the sparse open index when it is missing and waits until it is ACTIVE', async () => {
    let describes = 0;
    const seen = fakeDocApi(agent, (req) => {
      if (req.action === 'DescribeTable') {
        describes += 1;
        if (describes === 1) return awsError('ResourceNotFoundException', 'Requested resource not found');
        if (describes === 2) return ok({ Table: { TableStatus: 'CREATING' } });
        return ok(ACTIVE_TABLE);
      }
      return ok({});
    });
    await ledgerWith().get('r1');
    assert.deepEqual(
      seen.map((s) => s.action),
      ['DescribeTable', 'CreateTable', 'DescribeTable', 'DescribeTable', 'GetItem'],
    );
    assert.deepEqual(seen[1]?.body, {
      TableName: 'datasphere_runs',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'openShard', AttributeType: 'S' },
        { AttributeName: 'nextCheckAt', AttributeType: 'S' },
        { AttributeName: 'day', AttributeType: 'S' },
        { AttributeName: 'created', AttributeType: 'S' },
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
        {
          IndexName: 'history-index',
          KeySchema: [
            { AttributeName: 'day', KeyType: 'HASH' },
            { AttributeName: 'created', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
  });

  it('treats ResourceInUseException from CreateTable as a table someone else is creating', async () => {
    let describes = 0;
    const seen = fakeDocApi(agent, (req) => {
      if (req.action === 'DescribeTable') {
        describes += 1;
        return describes === 1 ? awsError('ResourceNotFoundException') : ok(ACTIVE_TABLE);
      }
      if (req.action === 'CreateTable') return awsError('ResourceInUseException', 'Table already exists');
      return ok({ Items: [] });
    });
    assert.deepEqual(await ledgerWith().listOpen(), []);
    assert.deepEqual(
      seen.map((s) => s.action),
      ['DescribeTable', 'CreateTable', 'DescribeTable', 'Query'],
    );
  });

  it('refuses a table that exists without the open index, naming table and index', async () => {
    fakeDocApi(agent, () => ok({ Table: { TableStatus: 'ACTIVE' } }));
    await assert.rejects(
      ledgerWith({ table: 'someone_elses' }).listOpen(),
      (error) =>
        isRunnerError(error) &&
        error.code === 'LEDGER_ERROR' &&
        error.message.includes('someone_elses') &&
        error.message.includes('open-index'),
    );
  });

  it('does not describe or create the table when createTable is false', async () => {
    const seen = fakeDocApi(agent, () => ok({}));
    await ledgerWith({ createTable: false }).get('r1');
    assert.deepEqual(
      seen.map((s) => s.action),
      ['GetItem'],
    );
  });

  it('asks Query (with a key condition on the index) for due runs, never Scan', async () => {
    const record = sampleRecord({ nextCheckAt: '2030-01-01T00:00:00Z' });
    const seen = fakeDocApi(agent, (req) =>
      req.action === 'Query'
        ? ok({ Items: [{ pk: { S: `run#${record.runId}` }, doc: { S: JSON.stringify(record) } }] })
        : ok({}),
    );
    const due = await ledgerWith({ createTable: false }).listDue(new Date('2030-01-01T00:00:00Z'), 7);
    assert.deepEqual(due, [record]);
    assert.deepEqual(
      seen.map((s) => s.action),
      ['Query'],
    );
    assert.deepEqual(seen[0]?.body, {
      TableName: 'datasphere_runs',
      IndexName: 'open-index',
      KeyConditionExpression: '#s = :s AND #n <= :due',
      ExpressionAttributeNames: { '#s': 'openShard', '#n': 'nextCheckAt' },
      ExpressionAttributeValues: { ':s': { S: 'open' }, ':due': { S: '2030-01-01T00:00:00.000Z' } },
      ScanIndexForward: true,
      Limit: 7,
    });
  });

  it('writes the run with its index keys and a create-if-absent condition', async () => {
    const record = sampleRecord({ nextCheckAt: '2030-01-01T00:00:00+03:00' });
    const seen = fakeDocApi(agent, () => ok({}));
    const result = await ledgerWith({ createTable: false }).create(record);
    assert.deepEqual(result, { created: true, record });
    assert.deepEqual(seen.map(pkOf), [`hist#${record.runId}`, `run#${record.runId}`]);
    const put = seen[1]?.body as { Item: Record<string, unknown>; ConditionExpression: string };
    assert.equal(put.ConditionExpression, 'attribute_not_exists(#pk)');
    assert.deepEqual(put.Item.pk, { S: `run#${record.runId}` });
    assert.deepEqual(put.Item.version, { N: '1' });
    assert.deepEqual(put.Item.openShard, { S: 'open' });
    assert.deepEqual(put.Item.nextCheckAt, { S: '2029-12-31T21:00:00.000Z' });
    assert.deepEqual(JSON.parse((put.Item.doc as { S: string }).S), record);
  });

  it('retries throttling with jittered backoff and then succeeds', async () => {
    let puts = 0;
    fakeDocApi(agent, (req) => {
      if (req.action !== 'PutItem' || !pkOf(req).startsWith('run#')) return ok({});
      puts += 1;
      if (puts === 1) return awsError('ThrottlingException', 'slow down');
      if (puts === 2) return awsError('ProvisionedThroughputExceededException');
      return ok({});
    });
    const result = await ledgerWith({ createTable: false }).create(sampleRecord());
    assert.equal(result.created, true);
    assert.equal(puts, 3);
    assert.deepEqual(sleeps, [37.5, 75]);
  });

  it('gives up after maxAttempts on 5xx with LEDGER_ERROR naming the action and the error type', async () => {
    fakeDocApi(agent, () => awsError('InternalServerError', 'boom', 500));
    await assert.rejects(ledgerWith({ createTable: false, maxAttempts: 3 }).get('r1'), (error) => {
      assert.ok(isRunnerError(error));
      assert.equal(error.code, 'LEDGER_ERROR');
      assert.match(error.message, /GetItem/);
      assert.match(error.message, /InternalServerError/);
      assert.deepEqual(error.details, {
        action: 'GetItem',
        table: 'datasphere_runs',
        awsType: 'InternalServerError',
        statusCode: 500,
      });
      return true;
    });
    assert.equal(sleeps.length, 2);
  });

  it('does not retry a validation error and never puts the token or secret into the error', async () => {
    const seen = fakeDocApi(agent, () =>
      awsError(
        'ValidationException',
        `bad request; Authorization=Bearer ${TOKEN} Signature=abcdef0123 test-secret`,
      ),
    );
    const cases = [
      [{ kind: 'bearer', token: async () => TOKEN }, TOKEN],
      [{ kind: 'sigv4', accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' }, 'test-secret'],
    ] as const;
    for (const [auth, secret] of cases) {
      await assert.rejects(ledgerWith({ createTable: false, auth }).get('r1'), (error) => {
        assert.ok(isRunnerError(error));
        assert.match(error.message, /GetItem.*ValidationException/);
        assert.ok(!error.message.includes(secret), error.message);
        assert.ok(!error.message.includes(TOKEN), error.message);
        assert.ok(!error.message.includes('abcdef0123'), error.message);
        return true;
      });
    }
    assert.equal(seen.length, 2);
    assert.deepEqual(sleeps, []);
  });

  it('retries a dropped connection and then reports LEDGER_ERROR', async () => {
    const seen = fakeDocApi(agent, () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    await assert.rejects(
      ledgerWith({ createTable: false, maxAttempts: 2 }).get('r1'),
      (error) => isRunnerError(error) && error.code === 'LEDGER_ERROR' && error.message.includes('GetItem'),
    );
    assert.equal(seen.length, 2);
  });

  it('passes a failing token provider error on unchanged', async () => {
    fakeDocApi(agent, () => ok({}));
    const failure = new RunnerError('AUTH_UNAVAILABLE', 'no token');
    await assert.rejects(
      ledgerWith({
        createTable: false,
        auth: {
          kind: 'bearer',
          token: async () => {
            throw failure;
          },
        },
      }).get('r1'),
      (error) => error === failure,
    );
  });

  it('recognises its own create that landed before a retry (5xx, then condition failed)', async () => {
    const record = sampleRecord();
    let firstItem: Record<string, unknown> | undefined;
    fakeDocApi(agent, (req) => {
      if (req.action === 'PutItem' && pkOf(req).startsWith('run#')) {
        if (firstItem === undefined) {
          firstItem = req.body.Item as Record<string, unknown>;
          return awsError('ServiceUnavailable', 'try later', 503);
        }
        return awsError('ConditionalCheckFailedException', 'The conditional request failed');
      }
      return ok({ Item: firstItem });
    });
    assert.deepEqual(await ledgerWith({ createTable: false }).create(record), { created: true, record });
  });

  it('reports a lost create with the stored record', async () => {
    const stored = sampleRecord();
    fakeDocApi(agent, (req) =>
      req.action === 'PutItem' && pkOf(req).startsWith('run#')
        ? awsError('ConditionalCheckFailedException')
        : ok({
            Item: {
              pk: { S: `run#${stored.runId}` },
              doc: { S: JSON.stringify(stored) },
              wt: { S: 'other' },
            },
          }),
    );
    const result = await ledgerWith({ createTable: false }).create({ ...stored, checks: 5 });
    assert.deepEqual(result, { created: false, record: stored });
  });

  it('updates in one conditional PutItem while the operationId is unchanged', async () => {
    const record = sampleRecord({ version: 3, operationId: 'op-1' });
    const seen = fakeDocApi(agent, () => ok({}));
    const next = await ledgerWith({ createTable: false }).update({ ...record, checks: 4 });
    assert.deepEqual(next, { ...record, checks: 4, version: 4 });
    assert.deepEqual(
      seen.map((s) => s.action),
      ['PutItem'],
    );
    assert.equal(seen[0]?.body.ConditionExpression, '#v = :v AND #op = :op');
    assert.deepEqual(seen[0]?.body.ExpressionAttributeValues, { ':v': { N: '3' }, ':op': { S: 'op-1' } });
  });

  it('writes the operation entry before the run item when an update sets the operationId', async () => {
    const record = sampleRecord({ version: 2 });
    const storedV2 = {
      pk: { S: `run#${record.runId}` },
      doc: { S: JSON.stringify(record) },
      version: { N: '2' },
    };
    let runPuts = 0;
    const seen = fakeDocApi(agent, (req) => {
      if (req.action === 'GetItem') return ok({ Item: storedV2 });
      const pk = ((req.body.Item as Record<string, { S: string }>).pk ?? { S: '' }).S;
      if (pk.startsWith('run#')) {
        runPuts += 1;
        if (runPuts === 1) return awsError('ConditionalCheckFailedException');
      }
      return ok({});
    });
    const next = await ledgerWith({ createTable: false }).update({
      ...record,
      operationId: 'op-9',
      status: 'RUNNING',
    });
    assert.equal(next?.version, 3);
    const writes = seen.map(
      (s) => `${s.action} ${((s.body.Item as Record<string, { S: string }>)?.pk ?? { S: '' }).S}`,
    );
    assert.deepEqual(writes, [
      `PutItem run#${record.runId}`,
      'GetItem ',
      'PutItem op#op-9',
      `PutItem run#${record.runId}`,
    ]);
    assert.equal(seen[0]?.body.ConditionExpression, '#v = :v AND #op = :op');
    assert.equal(seen[3]?.body.ConditionExpression, '#v = :v');
  });

  it('answers undefined for a stale update after one read, writing no operation entry', async () => {
    const record = sampleRecord({ version: 2 });
    const seen = fakeDocApi(agent, (req) =>
      req.action === 'GetItem'
        ? ok({ Item: { doc: { S: JSON.stringify({ ...record, version: 5 }) }, version: { N: '5' } } })
        : awsError('ConditionalCheckFailedException'),
    );
    assert.equal(
      await ledgerWith({ createTable: false }).update({ ...record, operationId: 'op-x' }),
      undefined,
    );
    assert.deepEqual(
      seen.map((s) => s.action),
      ['PutItem', 'GetItem'],
    );
  });
});
