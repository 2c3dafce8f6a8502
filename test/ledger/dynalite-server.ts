import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import aws4 from 'aws4';

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

/** The functions' environment for a Document API run store at `endpoint` (a dynalite, or a front of one). */
export function docApiStoreEnv(endpoint: string, table: string): Record<string, string> {
  return {
    RUN_STORE: `docapi:${endpoint}`,
    RUN_STORE_TABLE: table,
    AWS_ACCESS_KEY_ID: TEST_KEYS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_KEYS.secretAccessKey,
  };
}

/** One signed Document API call (dynalite checks the shape of the signature, not the keys). */
export async function docApi(endpoint: string, action: string, payload: object): Promise<unknown> {
  const url = new URL(endpoint);
  const body = JSON.stringify(payload);
  const signed = aws4.sign(
    {
      host: url.host,
      path: '/',
      method: 'POST',
      service: 'dynamodb',
      region: 'ru-central1',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDB_20120810.${action}`,
      },
      body,
    },
    { accessKeyId: TEST_KEYS.accessKeyId, secretAccessKey: TEST_KEYS.secretAccessKey },
  );
  const response = await fetch(endpoint, {
    method: 'POST',
    // Plain strings, and no Host or Content-Length: fetch sets those itself (and refuses numbers).
    headers: Object.fromEntries(
      Object.entries(signed.headers ?? {})
        .filter(([name]) => !['host', 'content-length'].includes(name.toLowerCase()))
        .map(([name, value]) => [name, String(value)]),
    ),
    body,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${action} failed: ${response.status} ${text}`);
  return JSON.parse(text) as unknown;
}
