// Missed scheduled slots (issue #13 item 4) in the core, with the in-memory ledger and a fake clock:
// reported once, even when no tick came in the minute after the catch-up window closed, never for a slot
// a late tick may still start, and at a bounded cost in ledger operations.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runIdFor } from '../../shared/core/run-identity.ts';
import type { RunRequest } from '../../shared/core/run-record.ts';
import {
  createSlotWatermarks,
  MAX_MISSED_LISTED,
  WATERMARK_SCOPE_PREFIX,
} from '../../shared/core/slot-watermark.ts';
import { sweep } from '../../shared/core/sweep.ts';
import { tick } from '../../shared/core/tick.ts';
import { RunnerError } from '../../shared/errors.ts';
import { createInMemoryLedger } from '../../shared/ledger/in-memory-ledger.ts';
import { buildNotification } from '../../shared/notify/notification.ts';
import type { JobDefinition } from '../../shared/schedule/jobs-file.ts';
import { slotDedupeKey } from '../../shared/schedule/tick-plan.ts';
import { ApiFailure, harness, REQUEST, RecordingNotifier } from './core-fixtures.ts';
import { countingLedger } from './counting-ledger.ts';

type Job = JobDefinition<RunRequest>;
const job = (name: string, schedule: string): Job => ({ name, schedule, concurrency: 'allow', run: REQUEST });
const at = (iso: string) => new Date(iso);
const missedSlots = (h: ReturnType<typeof harness>) =>
  h.logged('scheduled slot missed').map((line) => `${line.job} ${line.slot}`);

describe('missed scheduled slots', () => {
  it('a daily slot whose ticks were all lost is reported once, by the first tick after, however late', async () => {
    const notifier = new RecordingNotifier(['webhook']);
    const h = harness({ notifier, settings: { scheduleCatchUpMinutes: 15 } });
    const jobs = [job('nightly', '0 3 ? * * *')];
    const memory = createSlotWatermarks();
    await tick(jobs, at('2026-06-01T03:00:10Z'), h.deps, undefined, memory);
    assert.equal(h.api.count('execute'), 1);
    // Ticks are lost from 02:50 the next day until 09:30: not one came in the minute after the window.
    h.clock.ms = Date.parse('2026-06-02T09:30:00Z');
    await tick(jobs, at('2026-06-02T09:30:00Z'), h.deps, undefined, memory);
    assert.deepEqual(missedSlots(h), ['nightly 2026-06-02T03:00:00.000Z']);
    const [line] = h.logged('scheduled slot missed');
    assert.equal(line?.level, 'WARN');
    assert.match(String((line?.error as { message?: string })?.message), /catch-up window of 15 minutes/);

    // Later ticks, of this instance or a fresh one, report nothing again.
    await tick(jobs, at('2026-06-02T09:31:00Z'), h.deps, undefined, memory);
    await tick(jobs, at('2026-06-02T09:32:00Z'), h.deps);
    assert.equal(missedSlots(h).length, 1);
    assert.equal(h.api.count('execute'), 1, 'a missed slot is never started late');

    // The record in the slot's place: FAILED, MISSED, sent once as run.missed by the sweep.
    const record = await h.ledger.get(runIdFor(slotDedupeKey('nightly', at('2026-06-02T03:00:00Z'))));
    assert.equal(record?.status, 'FAILED');
    assert.equal(record?.error?.code, 'MISSED');
    assert.deepEqual(record?.job, { name: 'nightly', slot: '2026-06-02T03:00:00.000Z' });
    assert.equal(buildNotification(record ?? ({} as never)).type, 'run.missed');
    await sweep(h.deps);
    await sweep(h.deps);
    assert.deepEqual(
      notifier.delivered.filter((d) => d.runId === record?.runId),
      [{ destination: 'webhook', runId: record?.runId, status: 'FAILED' }],
    );
    assert.equal((await h.ledger.get(record?.runId ?? ''))?.nextCheckAt, undefined);
    assert.equal(h.logged('run finished').filter((l) => l.runId === record?.runId).length, 0);
  });

  it('two ticks at once (two instances) report a missed slot once', async () => {
    for (let round = 0; round < 20; round++) {
      const h = harness();
      const jobs = [job('nightly', '0 3 ? * * *')];
      await tick(jobs, at('2026-06-01T12:00:00Z'), h.deps);
      await Promise.all([
        tick(jobs, at('2026-06-02T12:00:00Z'), h.deps),
        tick(jobs, at('2026-06-02T12:00:00Z'), h.deps),
        tick(jobs, at('2026-06-02T12:01:00Z'), h.deps),
      ]);
      assert.equal(missedSlots(h).length, 1, `round ${round}`);
    }
  });

  it('slots passed over by a gap are each reported once they fall out of the window, never one a late tick could start', async () => {
    const h = harness({ settings: { scheduleCatchUpMinutes: 15 } });
    const jobs = [job('five', '*/5 * ? * * *')];
    const memory = createSlotWatermarks();
    await tick(jobs, at('2026-06-01T10:00:05Z'), h.deps, undefined, memory);
    // No tick from 10:01 to 10:39.
    await tick(jobs, at('2026-06-01T10:40:05Z'), h.deps, undefined, memory);
    assert.deepEqual(
      missedSlots(h).map((s) => s.slice(-14)),
      ['T10:05:00.000Z', 'T10:10:00.000Z', 'T10:15:00.000Z', 'T10:20:00.000Z'],
      '10:25-10:35 are still inside the window',
    );
    for (let minute = 41; minute <= 59; minute++) {
      await tick(jobs, at(`2026-06-01T10:${minute}:05Z`), h.deps, undefined, memory);
    }
    assert.deepEqual(
      missedSlots(h).map((s) => s.slice(-14)),
      ['05', '10', '15', '20', '25', '30', '35'].map((m) => `T10:${m}:00.000Z`),
    );
    assert.equal(h.api.count('execute'), 5, '10:00, 10:40, 10:45, 10:50, 10:55 ran');
  });

  it('ten ticks of ten different minutes at once report nothing: each minute had its tick', async () => {
    const h = harness();
    const jobs = [job('every-minute', '* * ? * * *')];
    await tick(jobs, at('2026-06-01T09:59:00Z'), h.deps);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        tick(jobs, new Date(Date.parse('2026-06-01T10:00:05Z') + i * 60_000), h.deps),
      ),
    );
    await tick(jobs, at('2026-06-01T10:30:00Z'), h.deps);
    assert.deepEqual(missedSlots(h).slice(0, 1), ['every-minute 2026-06-01T10:10:00.000Z']);
    assert.ok(!missedSlots(h).some((s) => s < 'every-minute 2026-06-01T10:10'), 'none of the ten minutes');
  });

  it('a long gap reports at most ten slots one by one, the last counting the rest', async () => {
    const h = harness();
    const jobs = [job('every-minute', '* * ? * * *')];
    await tick(jobs, at('2026-06-01T10:00:00Z'), h.deps);
    await tick(jobs, at('2026-06-01T14:00:00Z'), h.deps);
    const lines = h.logged('scheduled slot missed');
    assert.equal(lines.length, MAX_MISSED_LISTED);
    const last = (lines.at(-1)?.error as { message?: string })?.message ?? '';
    assert.match(last, /90 later slots up to 2026-06-01T11:40:00.000Z were missed too/);
    assert.match(last, /later slots up to 2026-06-01T13:44:00.000Z were not started either/);
    await tick(jobs, at('2026-06-01T14:01:00Z'), h.deps);
    assert.equal(
      h.logged('scheduled slot missed').length,
      MAX_MISSED_LISTED + 1,
      'then 13:45, once out of the window',
    );
  });

  it('a slot whose start failed transiently is not missed: its claim is there, and the watermark waits for it', async () => {
    const h = harness();
    const jobs = [job('nightly', '0 3 ? * * *')];
    await tick(jobs, at('2026-06-01T12:00:00Z'), h.deps);
    h.api.failures.execute = [() => new ApiFailure(503, 14, 'down')];
    await assert.rejects(tick(jobs, at('2026-06-02T03:00:05Z'), h.deps));
    await tick(jobs, at('2026-06-02T04:00:00Z'), h.deps);
    assert.deepEqual(missedSlots(h), []);
    const ledger = h.ledger;
    assert.equal(
      (await ledger.getSlot(`${WATERMARK_SCOPE_PREFIX}nightly`))?.holder.slice(0, 24),
      '2026-06-02T03:00:00.000Z',
    );
  });

  it('a tick whose watermark step fails still starts its run; the next tick reports', async () => {
    const h = harness();
    const jobs = [job('nightly', '0 3 ? * * *')];
    await tick(jobs, at('2026-06-01T12:00:00Z'), h.deps);
    const realGetSlot = h.ledger.getSlot.bind(h.ledger);
    h.ledger.getSlot = async () => {
      throw new RunnerError('LEDGER_ERROR', 'down');
    };
    await tick(jobs, at('2026-06-03T12:00:00Z'), h.deps);
    h.ledger.getSlot = realGetSlot;
    assert.equal(h.logged('missed-slot watermark not moved; the next tick tries again').length, 1);
    await tick(jobs, at('2026-06-03T12:01:00Z'), h.deps);
    assert.deepEqual(missedSlots(h), [
      'nightly 2026-06-02T03:00:00.000Z',
      'nightly 2026-06-03T03:00:00.000Z',
    ]);
  });

  it('a first sight (a new job, or a new schedule) reports nothing before it', async () => {
    const h = harness();
    await tick([job('nightly', '0 3 ? * * *')], at('2026-06-01T12:00:00Z'), h.deps);
    await tick([job('nightly', '0 4 ? * * *')], at('2026-06-05T12:00:00Z'), h.deps);
    assert.deepEqual(missedSlots(h), []);
  });

  it('costs a daily job no ledger operation on the ticks of a day but the one where its slot moves', async () => {
    const ledger = countingLedger(createInMemoryLedger());
    const h = harness({ ledger });
    const jobs = [job('nightly', '0 3 ? * * *')];
    const memory = createSlotWatermarks();
    const watermarkOps = () =>
      (ledger.calls.getSlot ?? 0) + (ledger.calls.acquireSlot ?? 0) + (ledger.calls.transferSlot ?? 0);
    await tick(jobs, at('2026-06-01T03:30:00Z'), h.deps, undefined, memory);
    assert.equal(watermarkOps(), 2, 'first sight: one read, one write');
    ledger.reset();
    const start = Date.parse('2026-06-01T03:31:00Z');
    for (let minute = 0; minute < 1440; minute++) {
      await tick(jobs, new Date(start + minute * 60_000), h.deps, undefined, memory);
    }
    // One day of ticks: 03:00 the next day starts its run (create + RUNNING) and moves the watermark.
    assert.equal(watermarkOps(), 1, 'one compare-and-set when the slot moved');
    // (Unchanged by the watermark: each tick inside the slot's catch-up window looks its key up.)
    assert.equal(ledger.calls.get ?? 0, 16);
    assert.equal(h.api.count('execute'), 1);
    // A cold instance (nothing remembered) reads the watermark once, then nothing.
    ledger.reset();
    const cold = createSlotWatermarks();
    for (let minute = 0; minute < 60; minute++) {
      await tick(jobs, new Date(start + (1440 + minute) * 60_000), h.deps, undefined, cold);
    }
    assert.equal(watermarkOps(), 1);
    assert.equal(
      Object.values(ledger.calls).reduce((a, b) => a + b, 0),
      1,
    );
  });
});
