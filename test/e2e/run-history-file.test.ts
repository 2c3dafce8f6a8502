import { createFileLedger } from '../../shared/ledger/file-store.ts';
import { tempDir } from './support/harness.ts';
import { describeRunHistory } from './support/run-history-suite.ts';

// The run history against the embedded file ledger (RUN_STORE=file:<dir>).
describeRunHistory('file', async () => {
  const dir = tempDir('ds-e2e-history-');
  return {
    env: { RUN_STORE: `file:${dir.path}` },
    openLedger: () => createFileLedger({ dir: dir.path }),
    close: async () => dir.remove(),
  };
});
