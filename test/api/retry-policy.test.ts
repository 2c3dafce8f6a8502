import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createRetryPolicy,
  errorCodeOf,
  parseDurationMs,
  parseRetryAfter,
} from '../../shared/api/retry-policy.ts';
import { RPC, RPC_CODES, rpcCodeInfo, rpcCodeName, rpcCodeOf } from '../../shared/api/rpc-codes.ts';

describe('createRetryPolicy', () => {
  it('backs off exponentially with equal jitter: half fixed, half random, capped', () => {
    const low = createRetryPolicy({ random: () => 0, maxAttempts: 10 });
    const high = createRetryPolicy({ random: () => 1, maxAttempts: 10 });
    const outcome = { kind: 'status', status: 503 } as const;
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => low.shouldRetry(n, outcome)),
      [250, 500, 1000, 2000, 4000, 4000],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((n) => high.shouldRetry(n, outcome)),
      [500, 1000, 2000, 4000, 8000, 8000],
    );
  });

  it('gives up after four attempts in total by default', () => {
    const policy = createRetryPolicy({ random: () => 0.5 });
    assert.equal(policy.maxAttempts, 4);
    assert.notEqual(policy.shouldRetry(3, { kind: 'timeout' }), undefined);
    assert.equal(policy.shouldRetry(4, { kind: 'timeout' }), undefined);
  });

  it('retries 429, 500, 502, 503 and 504, and never any other status', () => {
    const policy = createRetryPolicy();
    for (const status of [429, 500, 502, 503, 504]) {
      assert.notEqual(policy.shouldRetry(1, { kind: 'status', status }), undefined, String(status));
    }
    for (const status of [400, 401, 403, 404, 405, 409, 412, 422, 499, 501, 505, 302]) {
      assert.equal(policy.shouldRetry(1, { kind: 'status', status }), undefined, String(status));
    }
  });

  it('does not retry a 500 whose body says DATA_LOSS', () => {
    const policy = createRetryPolicy();
    assert.equal(policy.shouldRetry(1, { kind: 'status', status: 500, rpcCode: RPC.DATA_LOSS }), undefined);
    assert.notEqual(policy.shouldRetry(1, { kind: 'status', status: 500, rpcCode: RPC.INTERNAL }), undefined);
  });

  it('honours Retry-After instead of the backoff, capped at the maximum', () => {
    const policy = createRetryPolicy({ random: () => 0 });
    assert.equal(policy.shouldRetry(1, { kind: 'status', status: 429, retryAfterMs: 7000 }), 7000);
    assert.equal(policy.shouldRetry(1, { kind: 'status', status: 503, retryAfterMs: 0 }), 0);
    assert.equal(policy.shouldRetry(1, { kind: 'status', status: 429, retryAfterMs: 600_000 }), 30_000);
    assert.equal(
      createRetryPolicy({ maxRetryAfterMs: 5000 }).shouldRetry(1, {
        kind: 'status',
        status: 429,
        retryAfterMs: 9000,
      }),
      5000,
    );
    assert.equal(policy.shouldRetry(1, { kind: 'status', status: 400, retryAfterMs: 1000 }), undefined);
  });

  it('retries dropped connections and timeouts', () => {
    const policy = createRetryPolicy();
    assert.notEqual(policy.shouldRetry(1, { kind: 'network', errorCode: 'ECONNRESET' }), undefined);
    assert.notEqual(policy.shouldRetry(2, { kind: 'timeout' }), undefined);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads delta-seconds', () => {
    assert.equal(parseRetryAfter('3', now), 3000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
  });
  it('reads an HTTP date relative to now, never negative', () => {
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:12 GMT', now), 12_000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0);
  });
  it('ignores missing or unreadable values', () => {
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter('-5', now), undefined);
    assert.equal(parseRetryAfter('1.5', now), undefined);
  });
});

describe('parseDurationMs and errorCodeOf', () => {
  it('reads ProtoJSON durations', () => {
    assert.equal(parseDurationMs('2s'), 2000);
    assert.equal(parseDurationMs('1.5s'), 1500);
    assert.equal(parseDurationMs('0.000000001s'), 0);
    assert.equal(parseDurationMs('2m'), undefined);
    assert.equal(parseDurationMs(2), undefined);
  });
  it('finds a network error code in the cause chain', () => {
    const inner = Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    const outer = Object.assign(new Error('fetch failed', { cause: inner }), { code: 'SOMETHING' });
    assert.equal(errorCodeOf(outer), 'ECONNRESET');
    assert.equal(errorCodeOf(Object.assign(new Error('x'), { code: 'ENOTFOUND' })), 'ENOTFOUND');
    assert.equal(errorCodeOf('nope'), undefined);
  });
});

describe('rpc code table', () => {
  it('lists codes 0..16 in order with the HTTP statuses of api.md', () => {
    assert.deepEqual(
      RPC_CODES.map((row) => row.code),
      Array.from({ length: 17 }, (_, i) => i),
    );
    assert.equal(rpcCodeInfo(7)?.httpStatus, 403);
    assert.equal(rpcCodeInfo(9)?.httpStatus, 400);
    assert.equal(rpcCodeInfo(10)?.httpStatus, 409);
    assert.equal(rpcCodeInfo(16)?.httpStatus, 401);
    assert.equal(rpcCodeInfo(1)?.httpStatus, 499);
  });
  it('spells 12 UNIMPLEMENTED and accepts the YC alias NOT_IMPLEMENTED', () => {
    assert.equal(rpcCodeName(12), 'UNIMPLEMENTED');
    assert.equal(rpcCodeOf('NOT_IMPLEMENTED'), 12);
    assert.equal(rpcCodeOf('unimplemented'), 12);
    assert.equal(rpcCodeOf('NOPE'), undefined);
    assert.equal(rpcCodeName(99), 'CODE_99');
  });
  it('marks exactly UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL and UNAVAILABLE retryable', () => {
    assert.deepEqual(
      RPC_CODES.filter((row) => row.retryable).map((row) => row.name),
      ['UNKNOWN', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED', 'INTERNAL', 'UNAVAILABLE'],
    );
  });
});
