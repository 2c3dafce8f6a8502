import type { Dispatcher } from 'undici';
import { createDocApiLedger, type DocApiAuth } from './docapi-store.ts';
import { createFileLedger } from './file-store.ts';
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
 * The RunLedger for `spec`. Cheap: neither store touches disk or network before its first call, so
 * this may run at cold start.
 */
export function openLedger(spec: LedgerSpec, deps: LedgerDeps): RunLedger {
  switch (spec.kind) {
    case 'file':
      return createFileLedger({ dir: spec.dir });
    case 'docapi':
      return createDocApiLedger({
        endpoint: spec.endpoint,
        table: spec.table,
        auth: spec.auth,
        dispatcher: deps.dispatcher,
      });
  }
}
