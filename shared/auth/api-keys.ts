import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors.ts';

/**
 * API keys for machines (design.md §8), stored hashed: the functions hold only `API_KEYS`, a list of
 * `<name>:<sha256 hex of the key>:<projects>` entries, never a key. A key is 32 random bytes, so a plain
 * SHA-256 is enough (nothing to brute-force, unlike a password); the comparison runs in constant time.
 *
 *   API_KEYS="ci:9f86d0…:b1gproj1,b1gproj2; ops:60303a…:*"
 *
 * `*` = any project of ALLOWED_PROJECTS; a key never widens ALLOWED_PROJECTS.
 */
export interface ApiKeyEntry {
  /** Names the caller in logs (never the key). */
  readonly name: string;
  /** SHA-256 of the key's UTF-8 bytes. */
  readonly hash: Buffer;
  readonly projects: '*' | ReadonlySet<string>;
}

/** The prefix of minted keys: recognisable in a leaked text, and by the redactor's shape rules. */
export const API_KEY_PREFIX = 'dsr_';
/** What a presented key may look like: visible ASCII, no spaces (it travels in a header). */
export const API_KEY_SHAPE = /^[\x21-\x7e]{16,256}$/;

const NAME = /^[A-Za-z0-9_.-]{1,40}$/;
const HASH = /^[0-9a-f]{64}$/;
const PROJECT = /^[A-Za-z0-9_-]{1,50}$/;

/** The entries of `API_KEYS` (separated by `;`, commas inside an entry list its projects); throws ConfigError. */
export function parseApiKeys(raw: string | undefined): readonly ApiKeyEntry[] {
  const text = raw?.trim() ?? '';
  if (text === '') return [];
  const entries: ApiKeyEntry[] = [];
  const parts = text
    .split(/[;\n]/)
    .map((part) => part.trim())
    .filter((part) => part !== '');
  parts.forEach((part, index) => {
    const where = `entry ${index + 1}`;
    const fields = part.split(':');
    if (fields.length !== 3) {
      throw new ConfigError('API_KEYS', `${where} must be <name>:<sha256 hex>:<projects or *>`);
    }
    const [name = '', hash = '', projects = ''] = fields.map((field) => field.trim());
    if (!NAME.test(name))
      throw new ConfigError('API_KEYS', `${where}: name must be 1..40 of A-Z a-z 0-9 _ . -`);
    if (!HASH.test(hash)) {
      throw new ConfigError(
        'API_KEYS',
        `${where} (${name}): the hash must be 64 lower-case hex digits (SHA-256 of the key; npm run api-key prints it)`,
      );
    }
    let allowed: ApiKeyEntry['projects'];
    if (projects === '*') allowed = '*';
    else {
      const ids = projects
        .split(',')
        .map((id) => id.trim())
        .filter((id) => id !== '');
      const bad = ids.find((id) => !PROJECT.test(id));
      if (ids.length === 0 || bad !== undefined) {
        throw new ConfigError(
          'API_KEYS',
          `${where} (${name}): projects must be * or comma-separated project ids${bad === undefined ? '' : `, not "${bad}"`}`,
        );
      }
      allowed = new Set(ids);
    }
    if (entries.some((entry) => entry.name === name)) {
      throw new ConfigError('API_KEYS', `${where}: the name ${name} is used twice`);
    }
    const digest = Buffer.from(hash, 'hex');
    if (entries.some((entry) => entry.hash.equals(digest))) {
      throw new ConfigError('API_KEYS', `${where} (${name}): the same key is listed twice`);
    }
    entries.push({ name, hash: digest, projects: allowed });
  });
  return entries;
}

/** SHA-256 of a key. */
export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * The entry whose key `presented` is, or undefined. Every entry is compared, each in constant time, so
 * the time taken says nothing about which entry (or how much of a hash) matched.
 */
export function findApiKey(entries: readonly ApiKeyEntry[], presented: string): ApiKeyEntry | undefined {
  const digest = hashApiKey(presented);
  let found: ApiKeyEntry | undefined;
  for (const entry of entries) {
    if (timingSafeEqual(entry.hash, digest) && found === undefined) found = entry;
  }
  return found;
}

/** A new key: `dsr_` + 32 random bytes, base64url. */
export function mintApiKey(random: (size: number) => Buffer = randomBytes): string {
  return `${API_KEY_PREFIX}${random(32).toString('base64url')}`;
}

/** The `API_KEYS` entry for `key` (what the deploy stores; the key itself stays with its user). */
export function apiKeyEntryLine(name: string, key: string, projects: '*' | readonly string[]): string {
  const list = projects === '*' ? '*' : projects.join(',');
  const line = `${name}:${hashApiKey(key).toString('hex')}:${list}`;
  // The same rules as the functions apply at cold start: a line that would not load is refused here.
  parseApiKeys(line);
  return line;
}
