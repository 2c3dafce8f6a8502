import { assertSlotArguments } from './record-checks.ts';
import type { ConcurrencySlot, RunLedger } from './run-ledger.ts';

/**
 * A scope's slot as a store hands it to the rules: read once under the store's exclusion for that scope
 * (a lock file, or a single-threaded map), then changed by `put` or `free` before the exclusion ends.
 */
export interface HeldSlot {
  /** The slot as stored when the exclusion began; `undefined` when free. */
  readonly held: ConcurrencySlot | undefined;
  /** Store `slot` as the scope's holder. */
  put(slot: ConcurrencySlot): Promise<void> | void;
  /** Free the scope. */
  free(): void;
}

/** Runs `change` with the scope's slot held exclusively (no other change of that scope in between). */
export type WithSlot = <T>(scope: string, change: (slot: HeldSlot) => Promise<T>) => Promise<T>;

/**
 * The slot methods of the port (run-ledger.ts) for a store that reads and writes a slot under its own
 * exclusion (the file and in-memory stores): the rules live here once, create-if-absent on acquire and
 * compare-and-set on the holder for transfer and release. (The Document API store keeps them in
 * conditional writes instead.)
 */
export function slotRules(
  withSlot: WithSlot,
): Pick<RunLedger, 'acquireSlot' | 'transferSlot' | 'releaseSlot'> {
  return {
    async acquireSlot(scope, runId, since) {
      assertSlotArguments(scope, runId);
      return withSlot(scope, async ({ held, put }) => {
        if (held !== undefined) return { acquired: held.holder === runId, slot: held };
        const slot: ConcurrencySlot = { scope, holder: runId, since };
        await put(slot);
        return { acquired: true, slot };
      });
    },

    async transferSlot(scope, from, to, since) {
      assertSlotArguments(scope, from, to);
      return withSlot(scope, async ({ held, put }) => {
        if (held?.holder !== from) return undefined;
        const slot: ConcurrencySlot = { scope, holder: to, since };
        await put(slot);
        return slot;
      });
    },

    async releaseSlot(scope, runId) {
      assertSlotArguments(scope, runId);
      return withSlot(scope, async ({ held, free }) => {
        if (held?.holder !== runId) return false;
        free();
        return true;
      });
    },
  };
}
