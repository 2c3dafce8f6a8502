/**
 * A small cache of access decisions for one function instance: each entry lives `ttlMs`, at most
 * `maxEntries` are kept (the least recently used go first), and concurrent askers for the same key share
 * one computation, so a page of twenty runs of one project costs one Project.Get. A failed computation
 * is not cached (the next asker tries again). Keys are hashes (see token-access.ts), never a credential.
 */
export interface DecisionCache<V> {
  /** The cached value, if still fresh. */
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  /** The cached value, or `compute()`'s, computed once for every concurrent asker and then cached. */
  resolve(key: string, compute: () => Promise<V>): Promise<V>;
  readonly size: number;
}

export interface DecisionCacheOptions {
  /** How long a decision holds; 0 = not kept (concurrent askers still share one computation). */
  readonly ttlMs: number;
  /** @default 1000 */
  readonly maxEntries?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

export function createDecisionCache<V>(options: DecisionCacheOptions): DecisionCache<V> {
  const now = options.now ?? Date.now;
  const maxEntries = Math.max(1, options.maxEntries ?? 1000);
  const entries = new Map<string, { value: V; expiresAt: number }>();
  const inflight = new Map<string, Promise<V>>();

  const get = (key: string): V | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    // Recently used: moves to the young end.
    entries.delete(key);
    entries.set(key, entry);
    return entry.value;
  };

  const set = (key: string, value: V): void => {
    if (options.ttlMs <= 0) return;
    entries.delete(key);
    entries.set(key, { value, expiresAt: now() + options.ttlMs });
    while (entries.size > maxEntries) {
      const oldest = entries.keys().next();
      if (oldest.done === true) break;
      entries.delete(oldest.value);
    }
  };

  return {
    get,
    set,
    resolve(key, compute) {
      const cached = get(key);
      if (cached !== undefined) return Promise.resolve(cached);
      const running = inflight.get(key);
      if (running !== undefined) return running;
      const started = compute().then(
        (value) => {
          inflight.delete(key);
          set(key, value);
          return value;
        },
        (error: unknown) => {
          inflight.delete(key);
          throw error;
        },
      );
      inflight.set(key, started);
      return started;
    },
    get size() {
      return entries.size;
    },
  };
}
