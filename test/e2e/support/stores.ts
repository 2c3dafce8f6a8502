/**
 * The two ledgers every reliability test runs on: the file store in a temp dir, and the Document API
 * store against a dynalite started by the test (one at a time: started for the first Document API store,
 * stopped by `closeStores`; a fresh table per store), plus
 * raw access to a stored record so a test can damage it the way a bad write or a bad hand edit would.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { docApi, docApiStoreEnv, startDynalite } from '../../ledger/dynalite-server.ts';

export { docApi };

export const STORE_NAMES = ['file', 'docapi'] as const;
export type StoreName = (typeof STORE_NAMES)[number];

export interface TestStore {
  readonly name: StoreName;
  /** RUN_STORE and friends for the functions. */
  readonly env: Readonly<Record<string, string>>;
  /** Replaces the stored record of `runId` with `text` (keeping it in the open index). */
  corruptRun(runId: string, text: string): Promise<void>;
  /** The stored record of `runId` as the bytes the store holds (JSON or not), or undefined. */
  storedText(runId: string): Promise<string | undefined>;
  /**
   * The stored record of `runId` as the store holds it (every field, not only the public ones), or
   * undefined when there is none.
   */
  readRun(runId: string): Promise<Record<string, unknown> | undefined>;
}

let dynalite: Awaited<ReturnType<typeof startDynalite>> | undefined;

/** Stops the dynalite of this test file (call from `after`). */
export async function closeStores(): Promise<void> {
  await dynalite?.close();
  dynalite = undefined;
}

/** A fresh, empty ledger of kind `name`; `dir` is a temp dir of the test for the file store. */
export async function openTestStore(name: StoreName, dir: string): Promise<TestStore> {
  if (name === 'file') {
    const runs = join(dir, `runs-${randomUUID().slice(0, 8)}`);
    const fileStore: TestStore = {
      name,
      env: { RUN_STORE: `file:${runs}` },
      async corruptRun(runId, text) {
        writeFileSync(join(runs, 'runs', `${runId}.json`), text);
      },
      async storedText(runId) {
        try {
          return readFileSync(join(runs, 'runs', `${runId}.json`), 'utf8');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
          throw error;
        }
      },
      readRun: async (runId) => parsed(await fileStore.storedText(runId)),
    };
    return fileStore;
  }
  dynalite ??= await startDynalite();
  const endpoint = dynalite.endpoint;
  const table = `rel_${randomUUID().slice(0, 8)}`;
  const itemOf = async (runId: string) =>
    (
      (await docApi(endpoint, 'GetItem', {
        TableName: table,
        Key: { pk: { S: `run#${runId}` } },
        ConsistentRead: true,
      })) as { Item?: Record<string, { S?: string }> }
    ).Item;
  const docStore: TestStore = {
    name,
    env: docApiStoreEnv(endpoint, table),
    async corruptRun(runId, text) {
      const item = await itemOf(runId);
      if (item === undefined) throw new Error(`no item run#${runId} in ${table}`);
      await docApi(endpoint, 'PutItem', { TableName: table, Item: { ...item, doc: { S: text } } });
    },
    storedText: async (runId) => (await itemOf(runId))?.doc?.S,
    readRun: async (runId) => parsed(await docStore.storedText(runId)),
  };
  return docStore;
}

function parsed(text: string | undefined): Record<string, unknown> | undefined {
  return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
}
