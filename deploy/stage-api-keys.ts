/**
 * The stage's API keys (docs/auth.md): the `API_KEYS` entries `<name>:<sha256 hex>:<projects or *>`
 * that the three functions get, and how a deploy changes them.
 *
 * Where they live: the list is the stage's record, kept by the deploy in its own Lockbox secret
 * (`<prefix>-deploy`, entry `api-keys`, read by the deploy only), and handed to each function as a
 * PLAIN variable `API_KEYS`. An entry holds the SHA-256 of a key of 32 random bytes: nothing can be
 * learnt from it, so it needs no secret reference; as a plain variable it is visible (names and
 * projects, useful when auditing who may call), needs no Lockbox read at cold start, and adding or
 * revoking a key makes a new version of each function without running the Serverless plugin.
 * The record is what lets a later deploy without any key option keep the keys.
 *
 * What a deploy does with it: `API_KEYS` in the deployer's environment replaces the record (for
 * those who manage the list themselves); otherwise the record is kept, `--revoke-api-key NAME`
 * removes an entry and `--api-key NAME --projects P,…` mints a key, prints it once and adds its
 * entry (revoke and mint the same name to rotate a key).
 */
import { apiKeyEntryLine, mintApiKey, parseApiKeys } from '../shared/auth/api-keys.ts';
import { isRunnerError } from '../shared/errors.ts';

/** The entry of the stage's `deploy` secret holding the record (a JSON array of entry lines). */
export const API_KEYS_RECORD_ENTRY = 'api-keys';
const NAME = /^[A-Za-z0-9_.-]{1,40}$/;

export interface ApiKeysPlan {
  /** From `API_KEYS` in the deployer's environment: replaces the record. */
  readonly given?: readonly string[] | undefined;
  /** `--api-key NAME --projects …`: mint a key. */
  readonly mint?: { readonly name: string; readonly projects: '*' | readonly string[] } | undefined;
  /** `--revoke-api-key NAME` (repeatable). */
  readonly revoke: readonly string[];
}

export interface MintedKey {
  readonly name: string;
  /** The key itself: printed once, never stored or logged. */
  readonly key: string;
  readonly line: string;
}

/** The entry lines of an `API_KEYS` value, trimmed, in order. */
export function entryLines(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(/[;\n]/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

export const entryName = (line: string): string => line.split(':')[0]?.trim() ?? '';

/**
 * Every problem of an `API_KEYS` value at once (the functions' own loader stops at the first): each
 * entry is read with the functions' rules on its own, then names and keys are checked across entries.
 */
export function apiKeysProblems(raw: string | undefined, where = 'API_KEYS'): string[] {
  const problems: string[] = [];
  const lines = entryLines(raw);
  const names = new Map<string, number>();
  const hashes = new Map<string, number>();
  lines.forEach((line, index) => {
    const at = `entry ${index + 1}`;
    try {
      parseApiKeys(line);
    } catch (error) {
      if (!isRunnerError(error)) throw error;
      problems.push(`${where}: ${error.message.replace(/^API_KEYS: entry 1/, at)}`);
      return;
    }
    const [name = '', hash = ''] = line.split(':').map((field) => field.trim());
    const sameName = names.get(name);
    if (sameName !== undefined)
      problems.push(`${where}: ${at}: the name ${name} is used twice (entry ${sameName})`);
    else names.set(name, index + 1);
    const sameHash = hashes.get(hash);
    if (sameHash !== undefined) problems.push(`${where}: ${at} (${name}): the same key as entry ${sameHash}`);
    else hashes.set(hash, index + 1);
  });
  return problems;
}

/** Problems of the key options themselves (before the record is read). */
export function keyOptionProblems(plan: ApiKeysPlan, allowedProjects: readonly string[] | '*'): string[] {
  const problems: string[] = [];
  const keyOptions = plan.mint !== undefined || plan.revoke.length > 0;
  if (keyOptions && plan.given !== undefined) {
    problems.push(
      '--api-key/--revoke-api-key with API_KEYS set: the stage then has exactly the keys API_KEYS lists. ' +
        'Mint with npm run api-key and add the line to API_KEYS, or unset API_KEYS to let the deploy keep the list',
    );
  }
  if (plan.mint !== undefined) {
    const { name, projects } = plan.mint;
    if (!NAME.test(name)) problems.push(`--api-key "${name}": a name is 1..40 of A-Z a-z 0-9 _ . -`);
    if (projects !== '*') {
      if (projects.length === 0) problems.push("--projects: give project ids (comma-separated) or '*'");
      for (const id of projects) {
        if (!/^[A-Za-z0-9_-]{1,50}$/.test(id)) problems.push(`--projects: "${id}" is not a project id`);
        else if (allowedProjects !== '*' && !allowedProjects.includes(id))
          problems.push(
            `--projects: ${id} is not in ALLOWED_PROJECTS (a key never widens it): add it there first`,
          );
      }
    }
  }
  for (const name of plan.revoke) {
    if (!NAME.test(name)) problems.push(`--revoke-api-key "${name}": not a key name`);
  }
  return problems;
}

export function decodeRecord(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (Array.isArray(value) && value.every((line) => typeof line === 'string')) return value;
  } catch {
    // fall through: an unreadable record is reported, never silently replaced
  }
  throw new Error(
    `the stage's API key record (Lockbox entry ${API_KEYS_RECORD_ENTRY}) is not a JSON list of entries`,
  );
}

export const encodeRecord = (lines: readonly string[]): string => JSON.stringify(lines);

export interface ResolvedKeys {
  readonly lines: readonly string[];
  readonly minted: MintedKey | undefined;
  /** Problems that only the record reveals (a name taken or unknown): nothing may change then. */
  readonly problems: readonly string[];
}

/**
 * The stage's key list after this deploy: the given list, else the record, with the revocations and
 * the minted key applied.
 */
export function resolveKeys(
  stored: readonly string[] | undefined,
  plan: ApiKeysPlan,
  mint: () => string = mintApiKey,
): ResolvedKeys {
  const problems: string[] = [];
  let lines = [...(plan.given ?? stored ?? [])];
  for (const name of plan.revoke) {
    if (!lines.some((line) => entryName(line) === name))
      problems.push(`--revoke-api-key ${name}: the stage has no key of that name`);
    lines = lines.filter((line) => entryName(line) !== name);
  }
  let minted: MintedKey | undefined;
  if (plan.mint !== undefined) {
    const { name, projects } = plan.mint;
    if (lines.some((line) => entryName(line) === name)) {
      problems.push(
        `--api-key ${name}: the stage already has a key of that name (add --revoke-api-key ${name} to replace it)`,
      );
    } else {
      const key = mint();
      const line = apiKeyEntryLine(name, key, projects);
      minted = { name, key, line };
      lines = [...lines, line];
    }
  }
  return { lines, minted: problems.length > 0 ? undefined : minted, problems };
}

/** `API_KEYS` as the functions get it (absent when the stage has no key). */
export function apiKeysVariable(lines: readonly string[]): Record<string, string> {
  return lines.length === 0 ? {} : { API_KEYS: lines.join(';') };
}
