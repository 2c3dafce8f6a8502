/**
 * The run ledger's home: the stage's own YDB serverless database (`POST /ydb/v1/databases` with
 * `serverlessDatabase`), or the one RUN_STORE names, and its table, created by the ledger's own code
 * (so the table definition cannot drift from what the functions expect).
 */
import { waitForOperation } from './cloud-http.ts';
import type { DeployContext } from './deploy-context.ts';
import { listInFolder } from './list-all.ts';

export interface CloudDatabase {
  readonly id: string;
  readonly name: string;
  readonly status?: string;
  readonly documentApiEndpoint?: string;
  readonly serverlessDatabase?: Record<string, unknown>;
}

export async function findDatabase(ctx: DeployContext): Promise<CloudDatabase | undefined> {
  const databases = await listInFolder<CloudDatabase>(
    ctx,
    `${ctx.endpoints.ydb}/ydb/v1/databases`,
    'databases',
  );
  return databases.find((d) => d.name === ctx.names.database);
}

/** The Document API endpoint of the stage's database, created (and waited for) when missing. */
export async function ensureDatabase(ctx: DeployContext): Promise<string> {
  const name = ctx.names.database;
  let database = await findDatabase(ctx);
  if (database === undefined) {
    const answer = await ctx.http.call('POST', `${ctx.endpoints.ydb}/ydb/v1/databases`, {
      folderId: ctx.folderId,
      name,
      description: 'datasphere-runner run ledger',
      locationId: 'ru-central1',
      serverlessDatabase: {},
    });
    const created = await waitForOperation(ctx.http, answer, `creating database ${name}`, ctx.wait);
    if (typeof created.id !== 'string') throw new Error(`creating database ${name}: no id in the answer`);
    database = created as unknown as CloudDatabase;
    ctx.log(`created YDB serverless database ${name} (${created.id})`);
  }
  if (database.serverlessDatabase === undefined) {
    throw new Error(
      `database ${name} exists but is not serverless: the Document API needs a serverless database`,
    );
  }
  // A new database is PROVISIONING for a while; its Document API endpoint exists only once RUNNING.
  const started = ctx.now();
  let wait = 1_000;
  while (database.status !== 'RUNNING' || !database.documentApiEndpoint) {
    if (database.status === 'ERROR' || database.status === 'STOPPED' || database.status === 'DELETING') {
      throw new Error(`database ${name} is ${database.status}`);
    }
    if (ctx.now() - started > 15 * 60_000)
      throw new Error(`database ${name} did not become RUNNING in 15 minutes`);
    await ctx.sleep(wait);
    wait = Math.min(wait * 2, 10_000);
    database = (await ctx.http.call(
      'GET',
      `${ctx.endpoints.ydb}/ydb/v1/databases/${encodeURIComponent(database.id)}`,
    )) as unknown as CloudDatabase;
  }
  return database.documentApiEndpoint;
}
