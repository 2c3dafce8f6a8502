import { createInMemoryLedger } from '../../shared/ledger/in-memory-ledger.ts';
import { describeLedgerConformance } from './ledger-conformance.ts';

describeLedgerConformance('in-memory ledger', async (observer) => {
  const ledger = createInMemoryLedger(observer);
  return {
    ledger,
    cleanup: async () => {},
    second: async () => ledger,
    corrupt: async (runId, text) => ledger.putRaw(runId, text),
  };
});
