import { createInMemoryLedger } from '../../shared/ledger/in-memory-ledger.ts';
import { describeLedgerConformance } from './ledger-conformance.ts';

describeLedgerConformance('in-memory ledger', async () => {
  const ledger = createInMemoryLedger();
  return { ledger, cleanup: async () => {}, second: async () => ledger };
});
