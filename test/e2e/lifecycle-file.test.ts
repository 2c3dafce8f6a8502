import { tempDir } from './support/harness.ts';
import { describeLifecycle } from './support/lifecycle-suite.ts';

// The lifecycle suite against the embedded file ledger (RUN_STORE=file:<dir>).
describeLifecycle('file', async () => {
  const dir = tempDir('ds-e2e-runs-');
  return { env: { RUN_STORE: `file:${dir.path}` }, close: async () => dir.remove() };
});
