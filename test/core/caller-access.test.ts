/**
 * The core's side of authentication (design.md §8): a gateway caller (deps.access) may start, see, list
 * and cancel runs only of projects it may act on; a run of another project is "not found" in the very
 * words of an absent one. Counted: ledger reads, API calls, access checks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../shared/api/api-error.ts';
import { apiKeyEntryLine, parseApiKeys } from '../../shared/auth/api-keys.ts';
import { createAuthenticator } from '../../shared/auth/authenticator.ts';
import { cancelRun } from '../../shared/core/cancel-run.ts';
import { getRun } from '../../shared/core/get-run.ts';
import { listRuns } from '../../shared/core/list-runs.ts';
import type { CallerAccess, CoreDeps } from '../../shared/core/ports.ts';
import { startRun } from '../../shared/core/start-run.ts';
import { isRunnerError } from '../../shared/errors.ts';
import { createInMemoryLedger } from '../../shared/ledger/in-memory-ledger.ts';
import type { RunLedger } from '../../shared/ledger/run-ledger.ts';
import { harness } from './core-fixtures.ts';

/** A ledger that counts every call by method. */
function countingLedger(): { ledger: RunLedger; counts: Map<string, number>; total(): number } {
  const inner = createInMemoryLedger();
  const counts = new Map<string, number>();
  const ledger = new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        counts.set(String(name), (counts.get(String(name)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { ledger, counts, total: () => [...counts.values()].reduce((a, b) => a + b, 0) };
}

/** A caller that may act on `readable` only; counts its checks. */
function caller(readable: readonly string[], name = 'test'): CallerAccess & { checks: string[] } {
  const checks: string[] = [];
  return {
    caller: `key:${name}`,
    checks,
    verify: async () => undefined,
    known: (projectId) => readable.includes(projectId),
    mayAct: async (projectId) => {
      checks.push(projectId);
      return readable.includes(projectId);
    },
  };
}

const as = (deps: CoreDeps, access: CallerAccess): CoreDeps => ({ ...deps, access });
const request = (projectId: string, notebookId = 'nb.ipynb') => ({ projectId, notebookId });
const code = (expected: string) => (error: unknown) => isRunnerError(error) && error.code === expected;

async function seeded() {
  const counting = countingLedger();
  const h = harness({ ledger: counting.ledger });
  const alice = (
    await startRun(
      { request: request('p-alice'), trigger: 'http', dedupe: { kind: 'key', key: 'a1' } },
      h.deps,
    )
  ).record;
  const bob = (
    await startRun({ request: request('p-bob'), trigger: 'http', dedupe: { kind: 'key', key: 'b1' } }, h.deps)
  ).record;
  counting.counts.clear();
  h.api.calls.length = 0;
  return { h, counting, alice, bob };
}

describe('a gateway caller in the core', () => {
  it('cannot start a run of a project it may not act on: FORBIDDEN, nothing read or called', async () => {
    const { h, counting } = await seeded();
    const bobOnly = caller(['p-bob']);
    await assert.rejects(
      startRun(
        { request: request('p-alice'), trigger: 'http', dedupe: { kind: 'key', key: 'x' } },
        as(h.deps, bobOnly),
      ),
      (error: unknown) =>
        code('FORBIDDEN')(error) &&
        (error as { details?: { field?: string } }).details?.field === 'projectId' &&
        /project p-alice/.test((error as Error).message),
    );
    assert.equal(counting.total(), 0, 'no ledger call');
    assert.equal(h.api.calls.length, 0, 'no API call');
    // ALLOWED_PROJECTS still comes first (the documented 403 PROJECT_NOT_ALLOWED), without asking the caller.
    const limited = { ...h.deps, settings: { ...h.deps.settings, allowedProjects: new Set(['p-bob']) } };
    await assert.rejects(
      startRun(
        { request: request('p-alice'), trigger: 'http', dedupe: { kind: 'key', key: 'y' } },
        as(limited, bobOnly),
      ),
      code('PROJECT_NOT_ALLOWED'),
    );
    assert.deepEqual(bobOnly.checks, ['p-alice']);
  });

  it('starts a run of its own project', async () => {
    const { h } = await seeded();
    const result = await startRun(
      { request: request('p-bob', 'other.ipynb'), trigger: 'http', dedupe: { kind: 'key', key: 'b2' } },
      as(h.deps, caller(['p-bob'])),
    );
    assert.equal(result.outcome, 'started');
    assert.equal(h.api.count('execute'), 1);
  });

  it('cannot see or cancel a run of another project: RUN_NOT_FOUND exactly as for an absent run', async () => {
    const { h, alice } = await seeded();
    const bobOnly = caller(['p-bob']);
    const absent = await getRun({ runId: 'no-such-run' }, as(h.deps, bobOnly)).catch((e: unknown) => e);
    const hidden = await getRun({ runId: alice.runId }, as(h.deps, bobOnly)).catch((e: unknown) => e);
    assert.ok(code('RUN_NOT_FOUND')(absent) && code('RUN_NOT_FOUND')(hidden));
    assert.equal(
      (hidden as Error).message.replace(alice.runId, '<id>'),
      (absent as Error).message.replace('no-such-run', '<id>'),
    );
    assert.deepEqual((hidden as { details?: unknown }).details, (absent as { details?: unknown }).details);
    await assert.rejects(
      getRun({ operationId: alice.operationId ?? '' }, as(h.deps, bobOnly)),
      code('RUN_NOT_FOUND'),
    );
    await assert.rejects(cancelRun({ runId: alice.runId }, as(h.deps, bobOnly)), code('RUN_NOT_FOUND'));
    assert.equal(h.api.calls.length, 0, 'neither refreshed nor cancelled');
    assert.equal((await h.ledger.get(alice.runId))?.cancelRequestedAt, undefined);
  });

  it('sees and cancels a run of its own project', async () => {
    const { h, alice } = await seeded();
    const aliceOnly = caller(['p-alice']);
    assert.equal((await getRun({ runId: alice.runId }, as(h.deps, aliceOnly))).runId, alice.runId);
    const cancelled = await cancelRun({ runId: alice.runId }, as(h.deps, aliceOnly));
    assert.equal(cancelled.cancelReason, 'user');
    assert.equal(h.api.count('cancel'), 1);
  });

  it('lists only runs of projects it may act on, and is refused a projectId filter of another', async () => {
    const { h, alice, bob } = await seeded();
    const all = await listRuns({}, h.deps);
    assert.deepEqual(new Set(all.runs.map((r) => r.runId)), new Set([alice.runId, bob.runId]), 'direct: all');
    const bobOnly = caller(['p-bob']);
    const page = await listRuns({}, as(h.deps, bobOnly));
    assert.deepEqual(
      page.runs.map((r) => r.runId),
      [bob.runId],
    );
    assert.deepEqual(
      (await listRuns({ projectId: 'p-bob' }, as(h.deps, bobOnly))).runs.map((r) => r.runId),
      [bob.runId],
    );
    await assert.rejects(listRuns({ projectId: 'p-alice' }, as(h.deps, bobOnly)), code('FORBIDDEN'));
    const nobody = caller([]);
    assert.deepEqual((await listRuns({}, as(h.deps, nobody))).runs, []);
  });

  it('does not learn another project\u2019s run through a reused idempotency key', async () => {
    const { h, alice } = await seeded();
    const bobOnly = caller(['p-bob']);
    const error = await startRun(
      { request: request('p-bob'), trigger: 'http', dedupe: { kind: 'key', key: 'a1' } },
      as(h.deps, bobOnly),
    ).catch((e: unknown) => e);
    assert.ok(code('IDEMPOTENCY_KEY_REUSED')(error));
    assert.ok(!(error as Error).message.includes(alice.runId));
    assert.equal((error as { details?: { run?: unknown } }).details?.run, undefined);
    // Its own project's run is named, as before.
    const aliceOnly = caller(['p-alice', 'p-bob']);
    const own = await startRun(
      { request: request('p-bob'), trigger: 'http', dedupe: { kind: 'key', key: 'a1' } },
      as(h.deps, aliceOnly),
    ).catch((e: unknown) => e);
    assert.ok((own as Error).message.includes(alice.runId));
  });
});

describe('a token caller listing runs (the real authenticator, Project.Get stand-in)', () => {
  const TOKEN = 't1.fake-bob-token-00000000000000';

  async function listing() {
    const counting = countingLedger();
    const h = harness({ ledger: counting.ledger });
    const ids: Record<string, string[]> = { 'p-alice': [], 'p-bob': [], 'p-carol': [] };
    let n = 0;
    for (const projectId of ['p-alice', 'p-bob', 'p-carol', 'p-bob', 'p-alice', 'p-bob']) {
      h.clock.advance(1);
      const run = (
        await startRun(
          { request: request(projectId), trigger: 'http', dedupe: { kind: 'key', key: `k${n++}` } },
          h.deps,
        )
      ).record;
      ids[projectId]?.push(run.runId);
    }
    const reads: string[] = [];
    const auth = createAuthenticator({
      apiKeys: parseApiKeys(apiKeyEntryLine('ci', 'dsr_fake-ci-key-00000000000000000000000', ['p-bob'])),
      allowedProjects: '*',
      learn: () => undefined,
      readProject: async (token, projectId) => {
        reads.push(projectId);
        if (token !== TOKEN) {
          throw new ApiError(
            'API_ERROR',
            {
              api: 'DataSphere',
              rpc: 'Project.Get',
              method: 'GET',
              path: '/',
              httpStatus: 401,
              rpcCode: 16,
              retryable: false,
              attempts: 1,
            },
            'The token is invalid or has expired.',
          );
        }
        if (projectId !== 'p-bob') {
          throw new ApiError(
            'API_ERROR',
            {
              api: 'DataSphere',
              rpc: 'Project.Get',
              method: 'GET',
              path: '/',
              httpStatus: 403,
              rpcCode: 7,
              retryable: false,
              attempts: 1,
            },
            'denied',
          );
        }
      },
    });
    counting.counts.clear();
    h.api.calls.length = 0;
    return { h, counting, ids, reads, auth };
  }

  it('decides each project of the page once (two history reads), then reads the history once', async () => {
    const { h, counting, ids, reads, auth } = await listing();
    const token = (name: string) => (name === 'Authorization' ? `Bearer ${TOKEN}` : undefined);
    const first = await listRuns({}, as(h.deps, auth.authenticate(token)));
    assert.deepEqual(new Set(first.runs.map((r) => r.runId)), new Set(ids['p-bob']));
    // The token is proven good first (one probe), before the ledger is read.
    assert.deepEqual(reads.sort(), ['datasphere-runner-token-check', 'p-alice', 'p-bob', 'p-carol']);
    assert.equal(counting.counts.get('listRuns'), 2);
    counting.counts.clear();
    const second = await listRuns({}, as(h.deps, auth.authenticate(token)));
    assert.deepEqual(second.runs, first.runs);
    assert.equal(reads.length, 4, 'decisions kept');
    assert.equal(counting.counts.get('listRuns'), 1);
  });

  it('pages through a caller\u2019s runs each once with a small limit', async () => {
    const { h, ids, auth } = await listing();
    const token = (name: string) => (name === 'Authorization' ? `Bearer ${TOKEN}` : undefined);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listRuns(
        { limit: 1, ...(cursor === undefined ? {} : { cursor }) },
        as(h.deps, auth.authenticate(token)),
      );
      seen.push(...page.runs.map((r) => r.runId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    assert.deepEqual(new Set(seen), new Set(ids['p-bob']));
    assert.equal(seen.length, ids['p-bob']?.length);
  });

  it('reads nothing for an invalid token: 401 after one Project.Get, on status, cancel and list', async () => {
    const { h, counting, ids, reads, auth } = await listing();
    const expired = (name: string) =>
      name === 'Authorization' ? 'Bearer t1.fake-expired-token-000000000' : undefined;
    const bobRun = ids['p-bob']?.[0] ?? '';
    await assert.rejects(
      getRun({ runId: bobRun }, as(h.deps, auth.authenticate(expired))),
      code('UNAUTHENTICATED'),
    );
    await assert.rejects(
      cancelRun({ runId: bobRun }, as(h.deps, auth.authenticate(expired))),
      code('UNAUTHENTICATED'),
    );
    await assert.rejects(listRuns({}, as(h.deps, auth.authenticate(expired))), code('UNAUTHENTICATED'));
    await assert.rejects(
      listRuns({ projectId: 'p-bob' }, as(h.deps, auth.authenticate(expired))),
      code('UNAUTHENTICATED'),
    );
    assert.equal(counting.total(), 0, `no ledger call: ${JSON.stringify([...counting.counts])}`);
    assert.equal(reads.length, 1, 'one Project.Get, then the token is known bad');
    assert.equal(h.api.calls.length, 0);
  });

  it('an API key lists its projects with one history read and no Project.Get', async () => {
    const { h, counting, ids, reads, auth } = await listing();
    const key = (name: string) =>
      name === 'X-Api-Key' ? 'dsr_fake-ci-key-00000000000000000000000' : undefined;
    const page = await listRuns({}, as(h.deps, auth.authenticate(key)));
    assert.deepEqual(new Set(page.runs.map((r) => r.runId)), new Set(ids['p-bob']));
    assert.equal(counting.counts.get('listRuns'), 1);
    assert.equal(reads.length, 0);
  });
});
