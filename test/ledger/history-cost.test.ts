/**
 * What one page of the run history costs on the Document API, measured: a proxy in front of dynalite
 * adds `ReturnConsumedCapacity: TOTAL` to every request and notes what dynalite reports and the sizes
 * of the items each request read or wrote. YDB bills differently from DynamoDB (no half price for
 * eventually consistent reads, an empty Query costs one block), so the YDB request units are computed
 * from the measured sizes with the documented formula (yandex-cloud/docs en/ydb/pricing/ru-docapi.md):
 * read 1 RU per 4 KB block (Query: of all the data read; BatchGetItem: per document, a missing one is
 * one block), write 2 RU per 1 KB block, and a GSI row written counts as a write.
 *
 * The figures go to docs/history.md; the assertions keep them from growing unnoticed.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { type ListRunsQuery, listRuns } from '../../shared/core/list-runs.ts';
import type { RunRecord } from '../../shared/core/run-record.ts';
import { createDocApiLedger } from '../../shared/ledger/docapi-store.ts';
import type { RunLedger } from '../../shared/ledger/run-ledger.ts';
import { createLogger } from '../../shared/log.ts';
import { startDynalite, TEST_KEYS } from './dynalite-server.ts';

type Attr = Record<string, unknown>;
interface Measured {
  readonly action: string;
  /** What dynalite reported (DynamoDB capacity units). */
  readonly dynamo: number;
  /** Size of each item read or written, by DynamoDB's size rule (names + values, UTF-8). */
  readonly items: number[];
  /** BatchGetItem: keys asked (a missing document still costs a block). */
  readonly keys: number;
  /** PutItem: how many GSIs the written item belongs to. */
  readonly indexed: number;
}

const BLOCK_READ = 4096;
const BLOCK_WRITE = 1024;

/** DynamoDB's item size: attribute name bytes + value bytes (S: UTF-8 length, N: digits). */
function itemBytes(item: Record<string, Attr>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    size += Buffer.byteLength(name);
    const text = (value.S ?? value.N ?? '') as string;
    size += Buffer.byteLength(text);
  }
  return size;
}

/** YDB request units of one measured request. */
function ydbUnits(m: Measured): number {
  const blocks = (bytes: number, block: number) => Math.max(1, Math.ceil(bytes / block));
  switch (m.action) {
    case 'Query':
      return blocks(
        m.items.reduce((a, b) => a + b, 0),
        BLOCK_READ,
      );
    case 'BatchGetItem':
      return m.items.reduce((sum, bytes) => sum + blocks(bytes, BLOCK_READ), 0) + (m.keys - m.items.length);
    case 'GetItem':
      return blocks(m.items[0] ?? 0, BLOCK_READ);
    case 'PutItem':
      return blocks(m.items[0] ?? 0, BLOCK_WRITE) * 2 * (1 + m.indexed);
    default:
      return 0;
  }
}

/** A proxy that asks dynalite for consumed capacity and notes every request's sizes. */
async function startMeter(target: string): Promise<{ url: string; log: Measured[]; server: Server }> {
  const log: Measured[] = [];
  const upstream = new Agent({ keepAliveTimeout: 1_000 });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const action = String(req.headers['x-amz-target'] ?? '').replace('DynamoDB_20120810.', '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      if (['Query', 'BatchGetItem', 'PutItem', 'GetItem'].includes(action))
        body.ReturnConsumedCapacity = 'TOTAL';
      const text = JSON.stringify(body);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string' && name !== 'host' && name !== 'connection') headers[name] = value;
      }
      headers['content-length'] = String(Buffer.byteLength(text));
      const answer = await upstream.request({
        origin: target,
        path: '/',
        method: 'POST',
        headers,
        body: text,
      });
      const out = (await answer.body.json()) as Record<string, unknown>;
      if (answer.statusCode === 200) {
        const consumed = out.ConsumedCapacity as
          | { CapacityUnits?: number }
          | { CapacityUnits?: number }[]
          | undefined;
        const dynamo = Array.isArray(consumed)
          ? consumed.reduce((s, c) => s + (c.CapacityUnits ?? 0), 0)
          : (consumed?.CapacityUnits ?? 0);
        let items: number[] = [];
        let keys = 0;
        let indexed = 0;
        if (action === 'Query') items = ((out.Items ?? []) as Record<string, Attr>[]).map(itemBytes);
        if (action === 'GetItem' && out.Item !== undefined)
          items = [itemBytes(out.Item as Record<string, Attr>)];
        if (action === 'BatchGetItem') {
          const responses = Object.values((out.Responses ?? {}) as Record<string, Record<string, Attr>[]>);
          items = responses.flat().map(itemBytes);
          keys = Object.values(body.RequestItems as Record<string, { Keys: unknown[] }>).reduce(
            (s, r) => s + r.Keys.length,
            0,
          );
        }
        if (action === 'PutItem') {
          const item = body.Item as Record<string, Attr>;
          items = [itemBytes(item)];
          indexed = (item.openShard !== undefined ? 1 : 0) + (item.day !== undefined ? 1 : 0);
        }
        log.push({ action, dynamo, items, keys, indexed });
      }
      res
        .writeHead(answer.statusCode, { 'content-type': 'application/x-amz-json-1.0' })
        .end(JSON.stringify(out));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  server.on('close', () => void upstream.close());
  return { url: `http://127.0.0.1:${port}`, log, server };
}

const NOW = Date.parse('2030-05-03T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

/** A finished run as the product writes it: operation, times, a short timeline, a delivered report. */
function finishedRun(i: number): RunRecord {
  const created = NOW - 2 * 86_400_000 + i * 170_000;
  const runId = `6f1c1a52-8d3c-5e1b-9a7e-${String(i).padStart(12, '0')}`;
  const failed = i % 10 === 3;
  return {
    runId,
    dedupeKey: `key:nightly-${i}-7c1e9a45-2d6f-4b38-8e07-c5a3f1b9d264`,
    requestHash: 'sha256:9f2c4a8b1e7d3f6a0c5b8e2d4f7a1c3e6b9d0f2a4c7e1b3d5f8a0c2e4b6d8f1a',
    request: {
      projectId: i % 5 === 0 ? 'bt1otherproject00000' : 'bt1q7c5m2k9r4v0h8e3s',
      notebookId: '/home/jupyter/datasphere/project/train.ipynb',
      inputVariables: { MODE: 'full', EPOCHS: 12, DATASET: 's3://bucket/datasets/2030-05-01/' },
      outputVariableNames: ['score', 'model_uri'],
      spec: 'c1.4',
    },
    trigger: 'http',
    projectId: i % 5 === 0 ? 'bt1otherproject00000' : 'bt1q7c5m2k9r4v0h8e3s',
    notebookId: '/home/jupyter/datasphere/project/train.ipynb',
    status: failed ? 'FAILED' : 'SUCCEEDED',
    operationId: `bt1ckvu54on3851h${String(i).padStart(4, '0')}`,
    executionStatus: failed ? 'ERROR' : 'OK',
    ...(failed
      ? { error: { code: 'EXECUTION_ERROR', message: 'The notebook raised ValueError in cell 14' } }
      : {}),
    createdAt: iso(created),
    updatedAt: iso(created + 1_830_000),
    startedAt: iso(created + 1_200),
    finishedAt: iso(created + 1_800_000),
    deadline: iso(created + 86_400_000),
    checks: 31,
    reportedAt: iso(created + 1_830_000),
    events: [
      { at: iso(created), type: 'claimed' },
      { at: iso(created + 1_200), type: 'started', detail: 'RUNNING' },
      { at: iso(created + 1_800_000), type: 'finished', detail: failed ? 'FAILED' : 'SUCCEEDED' },
      { at: iso(created + 1_830_000), type: 'reported' },
    ],
    notifications: { webhook: { delivered: true, attempts: 1, deliveredAt: iso(created + 1_830_000) } },
    version: 1,
  };
}

let dynalite: Awaited<ReturnType<typeof startDynalite>> | undefined;
let meter: Awaited<ReturnType<typeof startMeter>> | undefined;
let agent: Agent | undefined;
let ledger: RunLedger | undefined;
const RUNS = 900; // three days of a busy schedule (≈ 500 a day on the busiest)

before(async () => {
  dynalite = await startDynalite();
  meter = await startMeter(dynalite.endpoint);
  agent = new Agent({ keepAliveTimeout: 1_000 });
  ledger = createDocApiLedger({
    endpoint: meter.url,
    table: 'cost_runs',
    dispatcher: agent,
    auth: TEST_KEYS,
  });
  for (let i = 0; i < RUNS; i += 8) {
    await Promise.all(
      Array.from({ length: Math.min(8, RUNS - i) }, (_, j) =>
        (ledger as RunLedger).create(finishedRun(i + j)),
      ),
    );
  }
});

after(async () => {
  await agent?.close();
  await new Promise<void>((resolve) => meter?.server.close(() => resolve()) ?? resolve());
  await dynalite?.close();
});

/** The requests, YDB RU and DynamoDB units of one `listRuns` call. */
async function measurePage(query: ListRunsQuery) {
  const log = (meter as NonNullable<typeof meter>).log;
  const deps = {
    ledger: ledger as RunLedger,
    now: () => new Date(NOW),
    log: createLogger({ write: () => {} }),
  };
  await listRuns({ limit: 1 }, deps); // table and index checked once per instance, not per page
  log.length = 0;
  const page = await listRuns(query, deps);
  const requests = [...log];
  return {
    runs: page.runs.length,
    queries: requests.filter((r) => r.action === 'Query').length,
    batchGets: requests.filter((r) => r.action === 'BatchGetItem').length,
    recordsRead: requests.reduce((s, r) => s + r.keys, 0),
    ydb: requests.reduce((s, r) => s + ydbUnits(r), 0),
    dynamo: requests.reduce((s, r) => s + r.dynamo, 0),
    others: requests.filter((r) => r.action !== 'Query' && r.action !== 'BatchGetItem').map((r) => r.action),
    detail: requests.map(
      (r) => `${r.action}:${r.items.length}/${r.items.reduce((a, b) => a + b, 0)}B=${ydbUnits(r)}`,
    ),
  };
}

describe('what the run history costs on the Document API (measured on dynalite)', () => {
  it('reads one page within a bounded number of request units', async (t) => {
    const rows: string[] = [];
    const cases: [string, ListRunsQuery, number][] = [
      ['limit 20', { limit: 20 }, 25],
      ['limit 100', { limit: 100 }, 120],
      ['limit 20, projectId (1 run in 5 matches)', { limit: 20, projectId: 'bt1otherproject00000' }, 30],
      ['limit 100, projectId (1 in 5)', { limit: 100, projectId: 'bt1otherproject00000' }, 150],
      ['limit 20, status=FAILED (1 in 10)', { limit: 20, status: ['FAILED'] }, 230],
      ['limit 100, status=FAILED (1 in 10)', { limit: 100, status: ['FAILED'] }, 560],
      ['limit 20, a filter nothing matches', { limit: 20, job: 'no-such-job' }, 40],
      ['limit 20, 30 days without runs', { limit: 20, until: new Date(NOW - 3 * 86_400_000) }, 35],
    ];
    for (const [name, query, bound] of cases) {
      const m = await measurePage(query);
      t.diagnostic(`${name}: ${m.detail.join(' ')}`);
      assert.deepEqual(m.others, [], name);
      assert.ok(m.ydb <= bound, `${name}: ${m.ydb} RU > ${bound}`);
      rows.push(
        `| ${name} | ${m.runs} | ${m.queries} | ${m.batchGets} | ${m.recordsRead} | ${m.ydb} | ${m.dynamo} |`,
      );
    }
    t.diagnostic('| page | runs | Query | BatchGetItem | records read | YDB RU | DynamoDB RCU (dynalite) |');
    for (const row of rows) t.diagnostic(row);
  });

  it('costs one small extra write per run created, and nothing per update', async (t) => {
    const log = (meter as NonNullable<typeof meter>).log;
    const run = { ...finishedRun(RUNS + 1), status: 'RUNNING' as const, nextCheckAt: iso(NOW) };
    const { finishedAt: _f, reportedAt: _r, ...open } = run;
    log.length = 0;
    await (ledger as RunLedger).create(open);
    const created = [...log];
    log.length = 0;
    await (ledger as RunLedger).update({ ...open, checks: 32 });
    const updated = [...log];
    const puts = created.filter((r) => r.action === 'PutItem');
    // op#, hist#, run#: the history entry is the only addition.
    assert.equal(puts.length, 3);
    const history = puts.find((r) => r.indexed === 1 && r.items[0] !== undefined && r.items[0] < 1024);
    assert.ok(history !== undefined);
    const historyUnits = ydbUnits(history);
    assert.equal(historyUnits, 4); // 2 RU for the item (≤ 1 KB), 2 RU for its row in the history index
    assert.ok(updated.every((r) => r.action !== 'PutItem' || r.indexed <= 1));
    const run2 = puts.find((r) => r.indexed === 1 && (r.items[0] ?? 0) >= 1024);
    t.diagnostic(
      `history entry: ${history.items[0]} bytes, ${historyUnits} YDB RU per run created; ` +
        `run item: ${run2?.items[0] ?? '?'} bytes (${ydbUnits({ ...(run2 as Measured), indexed: 0 })} RU per write, unchanged); ` +
        `update PutItems: ${updated.filter((r) => r.action === 'PutItem').length}`,
    );
  });
});
