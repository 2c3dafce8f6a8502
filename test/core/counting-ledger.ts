// A ledger wrapper that counts the calls made to it, by method: what an operation costs in the ledger.
import type { RunLedger } from '../../shared/ledger/run-ledger.ts';

export interface CountingLedger extends RunLedger {
  readonly calls: Record<string, number>;
  /** Forgets the counts so far. */
  reset(): void;
  /** Calls of the given methods (all when none given). */
  count(...methods: string[]): number;
}

export function countingLedger(ledger: RunLedger): CountingLedger {
  const calls: Record<string, number> = {};
  const counted = new Proxy(ledger, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        calls[prop] = (calls[prop] ?? 0) + 1;
        return value.apply(target, args);
      };
    },
  });
  return Object.assign(counted, {
    calls,
    reset: () => {
      for (const key of Object.keys(calls)) delete calls[key];
    },
    count: (...methods: string[]) =>
      (methods.length === 0 ? Object.keys(calls) : methods).reduce((sum, m) => sum + (calls[m] ?? 0), 0),
  });
}
