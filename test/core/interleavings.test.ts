// Random interleavings of starts (allow/skip/queue/replace, with and without retries), cancels,
// operation endings and sweeps, seeded so a failure replays. After every step: no scope has two
// unfinished runs with live operations. After draining: every run ended, each reported and delivered
// once (intermediate attempts not at all), the scope's slot is free, and new starts go ahead.
// Found two slot races (queue promotion, retry settle pass); INTERLEAVING_SEEDS widens the search.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { cancelRun } from '../../shared/core/cancel-run.ts';
import type { RunRecord, RunRequest } from '../../shared/core/run-record.ts';
import { startRun } from '../../shared/core/start-run.ts';
import { sweep } from '../../shared/core/sweep.ts';
import { harness, RecordingNotifier } from './core-fixtures.ts';

function rng(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
}

const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);

for (let seed = 1; seed <= Number(process.env.INTERLEAVING_SEEDS ?? 40); seed++) {
  it(`seed ${seed}`, async () => {
    const r = rng(seed);
    const notifier = new RecordingNotifier(['webhook']);
    const h = harness({ notifier });
    const runIds: string[] = [];
    const policies = ['allow', 'skip', 'queue', 'replace'] as const;
    const trace: string[] = [];
    for (let step = 0; step < 40; step++) {
      const x = r();
      if (x < 0.3) {
        const policy = policies[Math.floor(r() * 4)] ?? 'queue';
        const request: RunRequest = {
          projectId: 'p1',
          notebookId: 'nb',
          concurrency: policy,
          timeoutSeconds: 30 + Math.floor(r() * 600),
          ...(r() < 0.5
            ? { retry: { attempts: 3, delaySeconds: 10, backoff: 1, on: ['FAILED', 'TIMED_OUT'] } }
            : {}),
        };
        try {
          const res = await startRun(
            { request, trigger: 'http', dedupe: { kind: 'key', key: `k${step}` } },
            h.deps,
          );
          runIds.push(res.record.runId);
          trace.push(
            `start ${policy} -> ${res.record.runId.slice(0, 6)} ${res.outcome} ${res.record.status}`,
          );
        } catch (e) {
          trace.push(`start ${policy} -> ${(e as Error).message.slice(0, 60)}`);
        }
      } else if (x < 0.4 && runIds.length > 0) {
        const id = runIds[Math.floor(r() * runIds.length)] ?? '';
        try {
          const c = await cancelRun({ runId: id }, h.deps);
          trace.push(`cancel ${id.slice(0, 6)} -> ${c.status}`);
        } catch (e) {
          trace.push(`cancel ${id.slice(0, 6)} -> ${(e as Error).message.slice(0, 50)}`);
        }
      } else if (x < 0.7) {
        // finish a random not-done operation
        const open = [...h.api.operations.values()].filter((op) => !op.done);
        const op = open[Math.floor(r() * open.length)];
        if (op !== undefined) {
          const outcome = r() < 0.5 ? 'OK' : 'ERROR';
          h.api.finish(op.id, outcome);
          trace.push(`finish ${op.id} ${outcome}`);
        }
      } else {
        h.clock.advance(5 + Math.floor(r() * 60));
        await sweep(h.deps);
        trace.push('sweep');
      }
      // invariant: at most one not-done operation per scope among scoped runs (queue/replace/skip)
      const live = new Map<string, string[]>();
      const ids = new Set(runIds);
      for (const id of [...ids]) {
        const rec = await h.ledger.get(id);
        if (rec?.retriedBy !== undefined) {
          ids.add(rec.retriedBy);
          runIds.includes(rec.retriedBy) || runIds.push(rec.retriedBy);
        }
        if (rec?.concurrencyScope === undefined || rec.operationId === undefined) continue;
        const op = h.api.operations.get(rec.operationId);
        if (op !== undefined && !op.done && !FINAL.has(rec.status))
          live.set(rec.concurrencyScope, [...(live.get(rec.concurrencyScope) ?? []), rec.runId.slice(0, 6)]);
      }
      for (const [scope, list] of live)
        assert.ok(list.length <= 1, `two live operations in ${scope}: ${list}\n${trace.join('\n')}`);
    }
    // drain: cancel takes effect on cancel calls; finish everything repeatedly
    for (let i = 0; i < 60; i++) {
      for (const op of h.api.operations.values()) if (!op.done) h.api.finish(op.id, 'OK');
      h.clock.advance(130);
      await sweep(h.deps);
    }
    const records: RunRecord[] = [];
    const seen = new Set<string>();
    const queue = [...runIds];
    while (queue.length > 0) {
      const id = queue.shift() ?? '';
      if (seen.has(id)) continue;
      seen.add(id);
      const rec = await h.ledger.get(id);
      if (rec === undefined) continue;
      records.push(rec);
      if (rec.retriedBy !== undefined) queue.push(rec.retriedBy);
    }
    const open = await h.ledger.listOpen();
    const msg = () =>
      `${trace.join('\n')}\n${records.map((x) => `${x.runId.slice(0, 6)} ${x.status} ${x.concurrencyScope ?? ''} retryAt=${x.retryAt} rb=${x.retriedBy?.slice(0, 6)} next=${x.nextCheckAt}`).join('\n')}`;
    for (const rec of records)
      assert.ok(FINAL.has(rec.status), `${rec.runId} ended: ${rec.status}\n${msg()}`);
    assert.equal(
      open.length,
      0,
      `nothing open: ${open.map((o) => `${o.runId.slice(0, 6)} ${o.status}`)}\n${msg()}`,
    );
    const finishedLines = h.logged('run finished');
    const counts = new Map<string, number>();
    for (const l of finishedLines) counts.set(String(l.runId), (counts.get(String(l.runId)) ?? 0) + 1);
    for (const [id, n] of counts) assert.equal(n, 1, `${id} reported ${n} times\n${msg()}`);
    for (const rec of records) {
      const intermediate = rec.retriedBy !== undefined;
      if (!intermediate) assert.equal(counts.get(rec.runId), 1, `${rec.runId} reported once\n${msg()}`);
    }
    const delivered = new Map<string, number>();
    for (const d of notifier.delivered) delivered.set(d.runId, (delivered.get(d.runId) ?? 0) + 1);
    for (const [id, n] of delivered) assert.equal(n, 1, `${id} delivered ${n}\n${msg()}`);
    const slot = await h.ledger.getSlot('project:p1/nb');
    assert.equal(slot, undefined, `slot freed: ${JSON.stringify(slot)}\n${msg()}`);
    const last = await startRun(
      {
        request: { projectId: 'p1', notebookId: 'nb', concurrency: 'queue' },
        trigger: 'http',
        dedupe: { kind: 'key', key: 'last' },
      },
      h.deps,
    );
    assert.equal(last.outcome, 'started', `a queue start on an idle scope starts\n${msg()}`);
    const lastSkip = await startRun(
      {
        request: { projectId: 'p1', notebookId: 'nb2', concurrency: 'skip' },
        trigger: 'http',
        dedupe: { kind: 'key', key: 'last2' },
      },
      h.deps,
    );
    assert.equal(lastSkip.outcome, 'started');
  });
}
