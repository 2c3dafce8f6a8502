import type { Dispatcher } from 'undici';
import type { DocApiAuth } from './docapi-store.ts';
import type { RunLedger } from './run-ledger.ts';

/** Where the ledger lives (from `RUN_STORE`), with the Document API credentials already chosen. */
export type LedgerSpec =
  | { readonly kind: 'file'; readonly dir: string }
  | { readonly kind: 'docapi'; readonly endpoint: string; readonly table: string; readonly auth: DocApiAuth };

export interface LedgerDeps {
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
      return lazyLedger(async () => (await import('./file-store.ts')).createFileLedger({ dir: spec.dir }));
    case 'docapi':
      return lazyLedger(async () =>
        (await import('./docapi-store.ts')).createDocApiLedger({
          endpoint: spec.endpoint,
          table: spec.table,
          auth: spec.auth,
          dispatcher: deps.dispatcher,
        }),
      );
  }
}

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
    close: async () => {
      if (ledger !== undefined) await (await ledger).close?.();
    },
  };
}
