import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDecisionCache } from '../../shared/auth/decision-cache.ts';

describe('the decision cache (shared/auth/decision-cache.ts)', () => {
  it('keeps a decision for its lifetime, then forgets it', async () => {
    let now = 0;
    const cache = createDecisionCache<string>({ ttlMs: 60_000, now: () => now });
    let computed = 0;
    const compute = async () => `v${++computed}`;
    assert.equal(await cache.resolve('k', compute), 'v1');
    now = 59_999;
    assert.equal(await cache.resolve('k', compute), 'v1');
    now = 60_000;
    assert.equal(cache.get('k'), undefined);
    assert.equal(await cache.resolve('k', compute), 'v2');
    assert.equal(computed, 2);
  });

  it('computes once for concurrent askers of one key', async () => {
    const cache = createDecisionCache<boolean>({ ttlMs: 60_000 });
    let computed = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const compute = async () => {
      computed++;
      await gate;
      return true;
    };
    const asks = Array.from({ length: 20 }, () => cache.resolve('project-p', compute));
    release();
    assert.deepEqual(await Promise.all(asks), Array(20).fill(true));
    assert.equal(computed, 1);
  });

  it('does not keep a failure: the next asker computes again', async () => {
    const cache = createDecisionCache<boolean>({ ttlMs: 60_000 });
    let calls = 0;
    await assert.rejects(
      cache.resolve('k', async () => {
        calls++;
        throw new Error('DataSphere is down');
      }),
      /down/,
    );
    assert.equal(await cache.resolve('k', async () => ++calls > 0), true);
    assert.equal(calls, 2);
  });

  it('holds at most maxEntries, dropping the least recently used', async () => {
    const cache = createDecisionCache<number>({ ttlMs: 60_000, maxEntries: 3 });
    for (const [key, value] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ] as const)
      cache.set(key, value);
    assert.equal(cache.get('a'), 1); // a is now the most recently used
    cache.set('d', 4);
    assert.equal(cache.size, 3);
    assert.equal(cache.get('b'), undefined);
    assert.deepEqual(
      ['a', 'c', 'd'].map((key) => cache.get(key)),
      [1, 3, 4],
    );
  });

  it('keeps nothing with a lifetime of 0', async () => {
    const cache = createDecisionCache<boolean>({ ttlMs: 0 });
    let calls = 0;
    await cache.resolve('k', async () => ++calls > 0);
    await cache.resolve('k', async () => ++calls > 0);
    assert.equal(calls, 2);
    assert.equal(cache.size, 0);
  });
});
