import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { Agent } from 'undici';
import { createDocApiLedger } from '../../shared/ledger/docapi-store.ts';
import type { RunLedger } from '../../shared/ledger/run-ledger.ts';
import { docApiStoreEnv, startDynalite, TEST_KEYS } from '../ledger/dynalite-server.ts';
import { describeRunHistory } from './support/run-history-suite.ts';

// The run history against the YDB Document API store (RUN_STORE=docapi:<url>), served by dynalite with
// obviously fake static keys.
let dynalite: Awaited<ReturnType<typeof startDynalite>> | undefined;

after(async () => {
  await dynalite?.close();
});

describeRunHistory('docapi', async () => {
  dynalite ??= await startDynalite();
  const endpoint = dynalite.endpoint;
  const table = `e2e_history_${randomUUID().slice(0, 8)}`;
  return {
    env: docApiStoreEnv(endpoint, table),
    openLedger: (): RunLedger => {
      const agent = new Agent({ keepAliveTimeout: 1_000 });
      const ledger = createDocApiLedger({ endpoint, table, dispatcher: agent, auth: TEST_KEYS });
      return { ...ledger, close: () => agent.close() };
    },
    close: async () => undefined,
  };
});
