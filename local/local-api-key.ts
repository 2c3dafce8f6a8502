/**
 * The API key `npm start` expects at its front door (docs/auth.md): the `/runs…` routes need credentials
 * locally as in the cloud, so the walkthrough runs with a key. Unless API_KEYS is set in the environment
 * (then those keys apply and none is made), the key is DATASPHERE_RUNNER_API_KEY when that is set, else
 * the one kept in the state dir, else a new one (kept there for the next start). The functions get only
 * its hash line, as in the cloud; `npm start` prints the key, ready to export in another terminal.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_KEY_SHAPE, apiKeyEntryLine, mintApiKey } from '../shared/auth/api-keys.ts';

export interface LocalApiKey {
  /** The key to print; undefined when API_KEYS came from the environment. */
  readonly key: string | undefined;
  /** The API_KEYS value for the functions (undefined: the environment's is used). */
  readonly apiKeys: string | undefined;
  readonly source: 'API_KEYS' | 'environment' | 'state dir' | 'new';
}

export const LOCAL_KEY_FILE = 'local-api-key';

export function localApiKey(
  stateDir: string,
  env: Readonly<Record<string, string | undefined>>,
): LocalApiKey {
  if ((env.API_KEYS ?? '').trim() !== '') return { key: undefined, apiKeys: undefined, source: 'API_KEYS' };
  const entry = (key: string) => apiKeyEntryLine('local', key, '*');
  const exported = env.DATASPHERE_RUNNER_API_KEY?.trim();
  if (exported !== undefined && API_KEY_SHAPE.test(exported)) {
    return { key: exported, apiKeys: entry(exported), source: 'environment' };
  }
  const file = join(stateDir, LOCAL_KEY_FILE);
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim();
    if (API_KEY_SHAPE.test(kept)) return { key: kept, apiKeys: entry(kept), source: 'state dir' };
  }
  const key = mintApiKey();
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { key, apiKeys: entry(key), source: 'new' };
}
