import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import {
  billedMs,
  gbSeconds,
  type Idle,
  itemSize,
  monthly,
  type PerRun,
  readRu,
  writeRu,
} from '../../bench/cost-model.ts';
import { atLeast } from '../../bench/results-table.ts';

// dynalite's own item-size function (DynamoDB's rules): the reference our sizes must agree with.
const dynaliteItemSize = (createRequire(import.meta.url)('dynalite/db') as { itemSize(item: object): number })
  .itemSize;

describe('bench cost model', () => {
  it('bills a call by its duration rounded up to 100 ms times the memory', () => {
    assert.equal(billedMs(0.4), 100);
    assert.equal(billedMs(100), 100);
    assert.equal(billedMs(100.1), 200);
    assert.equal(gbSeconds(250, 256), 0.075);
    assert.equal(gbSeconds(50, 128), 0.0125);
  });

  it('counts Document API RU per block: reads 1 per 4 KB, writes 2 per KB, at least one block', () => {
    assert.equal(readRu(0), 1);
    assert.equal(readRu(4096), 1);
    assert.equal(readRu(4097), 2);
    assert.equal(writeRu(10), 2);
    assert.equal(writeRu(1024), 2);
    assert.equal(writeRu(1025), 4);
  });

  it('sizes items as dynalite does, for every attribute type the ledger writes and some it does not', () => {
    const items = [
      { pk: { S: 'run#0f9a' }, doc: { S: '{"runId":"0f9a","status":"RUNNING"}' }, version: { N: '12' } },
      { pk: { S: 'op#x' }, runId: { S: 'r-1' }, n: { N: '-123.4500' }, b: { B: 'AAEC' } },
      {
        a: { N: '0' },
        b: { N: '0.0012' },
        c: { N: '1200' },
        d: { N: '99.9' },
        e: { N: '1E+3' },
        f: { N: '-7' },
      },
      { pk: { S: 'k' }, flag: { BOOL: true }, none: { NULL: true }, l: { L: [{ S: 'a' }, { N: '1' }] } },
      { pk: { S: 'k' }, m: { M: { a: { S: 'x' }, bb: { N: '10' } } }, ss: { SS: ['a', 'bc'] } },
    ];
    for (const item of items) assert.equal(itemSize(item), dynaliteItemSize(item), JSON.stringify(item));
    // DynamoDB counts strings in UTF-8 bytes (dynalite counts UTF-16 units, so not compared there).
    assert.equal(itemSize({ s: { S: 'ü-ß-✓' } }), 1 + 9);
  });

  it('adds a month of runs to the idle timers, sharing busy sweeps among concurrent runs', () => {
    const idle: Idle = {
      sweepGbs: 0.025,
      sweepRu: 1,
      sweepLogBytes: 0,
      tickGbs: 0.0125,
      tickRu: 0,
      tickLogBytes: 0,
    };
    const none: PerRun = {
      calls: 0,
      callGbs: 0,
      sweepsDue: 0,
      busySweepGbs: 0,
      pointRu: 0,
      indexRu: 0,
      queryBytes: 0,
      queriesPerBusySweep: 0,
      queueRequests: 0,
      gatewayRequests: 0,
      logBytes: 0,
      storedBytes: 0,
    };
    const quiet = monthly(none, idle, 0, 30);
    assert.equal(quiet.calls, 86_400);
    assert.equal(quiet.busyShare, 0);
    assert.equal(quiet.ru, 43_200);
    assert.ok(Math.abs(quiet.gbHours - (43_200 * 0.0375) / 3600) < 1e-9);
    assert.equal(quiet.functionsUsd, 0);

    // One-hour runs: every minute's sweep is busy, and its Query reads the due records of all of them.
    const hour: PerRun = {
      ...none,
      calls: 2,
      sweepsDue: 61,
      busySweepGbs: 0.05,
      pointRu: 137,
      indexRu: 130,
      queryBytes: 61 * 800,
      queriesPerBusySweep: 2,
    };
    const month = monthly(hour, idle, 500, 30);
    assert.equal(month.runs, 15_000);
    assert.equal(month.calls, 86_400 + 30_000);
    assert.ok(month.busyShare > 0.999);
    const bytesPerSweep = (15_000 * 61 * 800) / (43_200 * month.busyShare);
    const expectedRu = 43_200 * month.busyShare * (1 + Math.ceil(bytesPerSweep / 4096)) + 15_000 * 137;
    assert.ok(Math.abs(month.ru - expectedRu) < 1, `${month.ru} vs ${expectedRu}`);
    assert.ok(Math.abs(month.ruWithIndex - month.ru - 15_000 * 130) < 1e-6);
    assert.ok(month.ydbRub > 0 && month.ydbRubWithIndex > month.ydbRub);
  });
});

describe('bench results table, lower bounds', () => {
  it('passes a ratio at or above its floor and fails one below', () => {
    const x = (n: number) => `${n.toFixed(2)}×`;
    assert.equal(atLeast('r', 2.4, 2.4, x).verdict, 'pass');
    assert.equal(atLeast('r', 2.39, 2.4, x).verdict, 'FAIL');
    assert.equal(atLeast('r', undefined, 2.4, x).verdict, 'not measured');
  });
});
