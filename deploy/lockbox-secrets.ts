/**
 * Lockbox secrets of a stage and the static keys kept in them. Secrets are found by name, read
 * through the payload host, and changed only by adding a version with the entries that differ, so
 * a second run with the same inputs adds nothing.
 */
import type { StaticKeys } from '../shared/config.ts';
import { waitForOperation } from './cloud-http.ts';
import { deleteResource } from './delete-resource.ts';
import type { DeployContext } from './deploy-context.ts';
import { listAll, listInFolder } from './list-all.ts';

export interface CloudSecret {
  readonly id: string;
  readonly name: string;
  readonly status?: string;
  readonly currentVersion?: { readonly id?: string; readonly payloadEntryKeys?: readonly string[] };
}

/** A secret's current version: its id and entries (values are secrets: never log them). */
export interface SecretVersion {
  readonly secretId: string;
  readonly versionId: string;
  readonly entries: Readonly<Record<string, string>>;
}

export async function findSecret(ctx: DeployContext, name: string): Promise<CloudSecret | undefined> {
  const secrets = await listInFolder<CloudSecret>(
    ctx,
    `${ctx.endpoints.lockbox}/lockbox/v1/secrets`,
    'secrets',
  );
  return secrets.find((s) => s.name === name);
}

export async function readSecret(ctx: DeployContext, secret: CloudSecret): Promise<SecretVersion> {
  const payload = await ctx.http.call(
    'GET',
    `${ctx.endpoints.lockboxPayload}/lockbox/v1/secrets/${encodeURIComponent(secret.id)}/payload`,
  );
  const entries: Record<string, string> = {};
  for (const entry of (payload.entries ?? []) as { key?: string; textValue?: string }[]) {
    if (typeof entry.key === 'string' && typeof entry.textValue === 'string')
      entries[entry.key] = entry.textValue;
  }
  const versionId =
    typeof payload.versionId === 'string' ? payload.versionId : (secret.currentVersion?.id ?? '');
  return { secretId: secret.id, versionId, entries };
}

/**
 * Makes the secret `name` hold `entries` (other entries it has are kept): creates it, or adds a
 * version with only the entries whose value differs, or does nothing.
 */
export async function putSecret(
  ctx: DeployContext,
  name: string,
  entries: Readonly<Record<string, string>>,
  existing: SecretVersion | undefined,
): Promise<SecretVersion> {
  const toEntries = (values: Readonly<Record<string, string>>) =>
    Object.entries(values).map(([key, textValue]) => ({ key, textValue }));
  if (existing === undefined) {
    const answer = await ctx.http.call('POST', `${ctx.endpoints.lockbox}/lockbox/v1/secrets`, {
      folderId: ctx.folderId,
      name,
      description: 'datasphere-runner: read by the deploy and the functions (secrets[] references)',
      versionPayloadEntries: toEntries(entries),
    });
    const created = await waitForOperation(ctx.http, answer, `creating Lockbox secret ${name}`, ctx.wait);
    const secret = created as unknown as CloudSecret;
    if (typeof secret.id !== 'string' || typeof secret.currentVersion?.id !== 'string') {
      throw new Error(`creating Lockbox secret ${name}: no id or version in the answer`);
    }
    ctx.log(`created Lockbox secret ${name} (${secret.id}) with ${Object.keys(entries).join(', ')}`);
    return { secretId: secret.id, versionId: secret.currentVersion.id, entries: { ...entries } };
  }
  const changed = Object.fromEntries(
    Object.entries(entries).filter(([key, value]) => existing.entries[key] !== value),
  );
  if (Object.keys(changed).length === 0) return existing;
  const answer = await ctx.http.call(
    'POST',
    `${ctx.endpoints.lockbox}/lockbox/v1/secrets/${encodeURIComponent(existing.secretId)}:addVersion`,
    { baseVersionId: existing.versionId, payloadEntries: toEntries(changed) },
  );
  const version = await waitForOperation(
    ctx.http,
    answer,
    `adding a version to Lockbox secret ${name}`,
    ctx.wait,
  );
  if (typeof version.id !== 'string')
    throw new Error(`adding a version to ${name}: no version id in the answer`);
  ctx.log(`Lockbox secret ${name}: new version ${version.id} (${Object.keys(changed).join(', ')} changed)`);
  return { secretId: existing.secretId, versionId: version.id, entries: { ...existing.entries, ...entries } };
}

export async function deleteSecret(ctx: DeployContext, secret: CloudSecret): Promise<void> {
  await deleteResource(
    ctx,
    `${ctx.endpoints.lockbox}/lockbox/v1/secrets/${encodeURIComponent(secret.id)}`,
    `Lockbox secret ${secret.name}`,
  );
}

export interface KeyEntryNames {
  readonly id: string;
  readonly secret: string;
}

/**
 * A static access key of the account, reused when `stored` holds one that still exists, else a new
 * one (IAM `POST /iam/aws-compatibility/v1/accessKeys`, whose secret is shown only once: the caller
 * must put it into Lockbox).
 */
export async function ensureStaticKey(
  ctx: DeployContext,
  accountId: string,
  accountName: string,
  stored: Readonly<Record<string, string>>,
  names: KeyEntryNames,
): Promise<{ keys: StaticKeys; fresh: boolean }> {
  const keyId = stored[names.id];
  const secret = stored[names.secret];
  if (keyId !== undefined && secret !== undefined) {
    const keys = await listAll<{ keyId?: string }>(
      ctx.http,
      `${ctx.endpoints.iam}/iam/aws-compatibility/v1/accessKeys?serviceAccountId=${encodeURIComponent(accountId)}&pageSize=100`,
      'accessKeys',
    );
    if (keys.some((k) => k.keyId === keyId))
      return { keys: { accessKeyId: keyId, secretAccessKey: secret }, fresh: false };
  }
  const created = await ctx.http.call('POST', `${ctx.endpoints.iam}/iam/aws-compatibility/v1/accessKeys`, {
    serviceAccountId: accountId,
    description: `datasphere-runner ${ctx.names.stage}: kept in Lockbox`,
  });
  const accessKey = created.accessKey as { keyId?: unknown } | undefined;
  if (typeof accessKey?.keyId !== 'string' || typeof created.secret !== 'string') {
    throw new Error(`creating a static key for ${accountName}: no key id or secret in the answer`);
  }
  ctx.log(`created a static key for ${accountName}`);
  return { keys: { accessKeyId: accessKey.keyId, secretAccessKey: created.secret }, fresh: true };
}
