import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import { docApiStoreEnv, startDynalite } from '../ledger/dynalite-server.ts';
import { describeLifecycle } from './support/lifecycle-suite.ts';

// The lifecycle suite against the YDB Document API store (RUN_STORE=docapi:<url>), served by dynalite
// with obviously fake static keys; each platform gets its own table.
let dynalite: Awaited<ReturnType<typeof startDynalite>> | undefined;

after(async () => {
  await dynalite?.close();
});

describeLifecycle('docapi', async () => {
  dynalite ??= await startDynalite();
  return {
    env: docApiStoreEnv(dynalite.endpoint, `e2e_runs_${randomUUID().slice(0, 8)}`),
    close: async () => undefined,
  };
});
