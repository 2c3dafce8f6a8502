/**
 * A dynalite for the Document API store tests of one file: started with the undici agent its ledgers
 * talk through before the file's tests, stopped after them; ledgers on fresh tables, and a dispatcher
 * that hands the test every request it passes on.
 */
import { randomUUID } from 'node:crypto';
import { after, before } from 'node:test';
import { Agent, type Dispatcher } from 'undici';
import { createDocApiLedger, type DocApiLedgerOptions } from '../../shared/ledger/docapi-store.ts';
import type { RunLedger } from '../../shared/ledger/run-ledger.ts';
import { startDynalite, TEST_KEYS } from './dynalite-server.ts';

export interface DynaliteForTestFile {
  readonly endpoint: () => string;
  /** The Document API store on `table` of this dynalite, through the file's agent unless `options` say. */
  ledger(table: string, options?: Partial<DocApiLedgerOptions>): RunLedger;
  /** A dispatcher over the file's agent that hands `note` the X-Amz-Target and body of every request. */
  recording(note: (target: string, body: string) => void): Dispatcher;
}

/** A table name not used before: `<prefix>_<8 hex>`. */
export const freshTable = (prefix: string): string => `${prefix}_${randomUUID().slice(0, 8)}`;

export function dynaliteForTestFile(): DynaliteForTestFile {
  let server: { endpoint: string; close(): Promise<void> } | undefined;
  let agent: Agent | undefined;
  before(async () => {
    server = await startDynalite();
    agent = new Agent({ keepAliveTimeout: 1_000 });
  });
  after(async () => {
    await agent?.close();
    await server?.close();
  });
  const started = () => {
    if (server === undefined || agent === undefined) throw new Error('dynalite did not start');
    return { server, agent };
  };
  return {
    endpoint: () => started().server.endpoint,
    ledger: (table, options = {}) =>
      createDocApiLedger({
        endpoint: started().server.endpoint,
        table,
        dispatcher: started().agent,
        auth: TEST_KEYS,
        ...options,
      }),
    recording: (note) =>
      started().agent.compose((dispatch) => (opts, handler) => {
        const headers = opts.headers as Record<string, string> | undefined;
        note(headers?.['x-amz-target'] ?? '?', String(opts.body));
        return dispatch(opts, handler);
      }),
  };
}
