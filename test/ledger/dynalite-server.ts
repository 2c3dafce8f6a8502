import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

type DynaliteFactory = (options: { createTableMs?: number }) => Server;

/** A dynalite (DynamoDB stand-in) on 127.0.0.1 at a free port; `close()` stops it. */
export async function startDynalite(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;
  const server = dynalite({ createTableMs: 50 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Obviously fake keys: dynalite refuses unsigned requests but checks no signature. */
export const TEST_KEYS = { kind: 'sigv4', accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' } as const;
