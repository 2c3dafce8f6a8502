import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Emulator, startEmulator } from '../../local/emulator/emulator.ts';

// Obviously fake tokens.
const SA = 't1.fake-service-account-token-000';
const ALICE = 't1.fake-alice-token-000000000000';

describe('the emulator with callers\u2019 tokens (tokenProjects)', () => {
  let emulator: Emulator;
  before(async () => {
    emulator = await startEmulator({ token: SA, tokenProjects: { [ALICE]: ['p-alice'] } });
  });
  after(() => emulator.close());

  const get = async (token: string, projectId: string) => {
    const res = await fetch(`${emulator.url}/datasphere/v2/projects/${projectId}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.status, body: (await res.json()) as { code?: number; id?: string } };
  };

  it('lets a listed token read its projects only (403 PERMISSION_DENIED, code 7, for another)', async () => {
    assert.deepEqual(await get(ALICE, 'p-alice').then((a) => [a.status, a.body.id]), [200, 'p-alice']);
    assert.deepEqual(await get(ALICE, 'p-bob').then((a) => [a.status, a.body.code]), [403, 7]);
  });

  it('lets the configured token read every project, and refuses any other token 401', async () => {
    assert.equal((await get(SA, 'p-bob')).status, 200);
    assert.deepEqual(
      await get('t1.fake-unknown-token-0000000000', 'p-alice').then((a) => [a.status, a.body.code]),
      [401, 16],
    );
    const recorded = emulator.requests.filter((r) => r.path === '/datasphere/v2/projects/p-alice');
    assert.deepEqual(
      recorded.map((r) => r.authorized),
      [true, false],
    );
  });
});
