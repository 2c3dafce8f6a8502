import type { Dispatcher } from 'undici';
import type { DocApiAuth } from './docapi-store.ts';
import type { LedgerObserver, RunLedger } from './run-ledger.ts';

/** Where the ledger lives (from `RUN_STORE`), with the Document API credentials already chosen. */
export type LedgerSpec =
  | { readonly kind: 'file'; readonly dir: string }
  | { readonly kind: 'docapi'; readonly endpoint: string; readonly table: string; readonly auth: DocApiAuth };

export interface LedgerDeps extends LedgerObserver {
  /** Carries the Document API requests (unused by the file store). */
  readonly dispatcher: Dispatcher;
}

/**
 * The RunLedger for `spec`. Each store's module is loaded on the first call, not when a bundle loads:
 * a function pays only for the store it uses (in the cloud the file store, its `fs` and `os`, is never
 * evaluated), and nothing touches disk or network before the first call.
 */
export function openLedger(spec: LedgerSpec, deps: LedgerDeps): RunLedger {
  switch (spec.kind) {
    case 'file':
      return lazyLedger(async () =>
        (await import('./file-store.ts')).createFileLedger({ dir: spec.dir, ...observer(deps) }),
      );
    case 'docapi':
      return lazyLedger(async () =>
        (await import('./docapi-store.ts')).createDocApiLedger({
          endpoint: spec.endpoint,
          table: spec.table,
          auth: spec.auth,
          dispatcher: deps.dispatcher,
          ...observer(deps),
        }),
      );
  }
}

const observer = (deps: LedgerDeps): LedgerObserver =>
  deps.onUnreadable === undefined ? {} : { onUnreadable: deps.onUnreadable };

/** A RunLedger that creates the real one on first use and forwards every call to it. */
function lazyLedger(load: () => Promise<RunLedger>): RunLedger {
  let ledger: Promise<RunLedger> | undefined;
  const real = () => {
    ledger ??= load();
    return ledger;
  };
  return {
    create: async (record) => (await real()).create(record),
    get: async (runId) => (await real()).get(runId),
    findByOperationId: async (operationId) => (await real()).findByOperationId(operationId),
    update: async (record) => (await real()).update(record),
    listDue: async (dueBy, limit) => (await real()).listDue(dueBy, limit),
    listOpen: async () => (await real()).listOpen(),
    listRuns: async (query) => (await real()).listRuns(query),
    acquireSlot: async (scope, runId, since) => (await real()).acquireSlot(scope, runId, since),
    getSlot: async (scope) => (await real()).getSlot(scope),
    transferSlot: async (scope, from, to, since) => (await real()).transferSlot(scope, from, to, since),
    releaseSlot: async (scope, runId) => (await real()).releaseSlot(scope, runId),
    close: async () => {
      if (ledger !== undefined) await (await ledger).close?.();
    },
  };
}
