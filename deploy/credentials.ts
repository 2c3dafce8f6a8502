/**
 * The deployer's Yandex Cloud identity: an IAM token, the cloud and the folder. Taken from the
 * environment (`YC_IAM_TOKEN` or `YC_OAUTH_TOKEN`, `YC_CLOUD_ID`, `YC_FOLDER_ID`), else from the
 * yc CLI (`yc iam create-token`, `yc config get cloud-id|folder-id`), which works for every kind
 * of yc profile (the plugin itself can only read OAuth-token profiles from the yc config file).
 * The resolved values are handed to the Serverless plugin as YC_IAM_TOKEN/YC_CLOUD_ID/YC_FOLDER_ID.
 */
import { execFile } from 'node:child_process';
import { request } from 'undici';

type Env = Readonly<Record<string, string | undefined>>;

export interface YcCredentials {
  readonly iamToken: string;
  readonly cloudId: string;
  readonly folderId: string;
  /** Where the token came from, for the log (never the token itself). */
  readonly tokenSource: string;
}

export interface CredentialSources {
  readonly env: Env;
  /** Runs `yc <args>` and returns its trimmed stdout, or undefined when yc is absent or fails. */
  readonly runYc: (args: readonly string[]) => Promise<string | undefined>;
  /** Exchanges a Yandex OAuth token for an IAM token (IAM API `POST /iam/v1/tokens`). */
  readonly exchangeOauthToken: (oauthToken: string) => Promise<string>;
}

/**
 * Resolves the deployer's credentials.
 * @throws Error listing every missing piece and how to provide it.
 */
export async function resolveCredentials(sources: CredentialSources): Promise<YcCredentials> {
  const { env } = sources;
  let iamToken = text(env.YC_IAM_TOKEN);
  let tokenSource = 'YC_IAM_TOKEN';
  if (iamToken === undefined && text(env.YC_OAUTH_TOKEN) !== undefined) {
    iamToken = await sources.exchangeOauthToken(text(env.YC_OAUTH_TOKEN) ?? '');
    tokenSource = 'YC_OAUTH_TOKEN (exchanged for an IAM token)';
  }
  if (iamToken === undefined) {
    iamToken = await sources.runYc(['iam', 'create-token']);
    tokenSource = 'yc iam create-token';
  }
  const cloudId = text(env.YC_CLOUD_ID) ?? (await sources.runYc(['config', 'get', 'cloud-id']));
  const folderId = text(env.YC_FOLDER_ID) ?? (await sources.runYc(['config', 'get', 'folder-id']));
  const missing: string[] = [];
  if (!iamToken)
    missing.push('a token: set YC_IAM_TOKEN or YC_OAUTH_TOKEN, or configure the yc CLI (yc init)');
  if (!cloudId) missing.push('the cloud: set YC_CLOUD_ID or `yc config set cloud-id <id>`');
  if (!folderId) missing.push('the folder: set YC_FOLDER_ID or `yc config set folder-id <id>`');
  if (missing.length > 0 || !iamToken || !cloudId || !folderId) {
    throw new Error(`Yandex Cloud credentials are incomplete; missing ${missing.join('; ')}`);
  }
  return { iamToken, cloudId, folderId, tokenSource };
}

/** Runs the real yc CLI; undefined when it is not installed or exits non-zero. */
export function runYcCli(args: readonly string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('yc', [...args], { timeout: 60_000 }, (error, stdout) => {
      const out = String(stdout).trim();
      resolve(error || out === '' ? undefined : out);
    });
  });
}

/** Exchanges an OAuth token at `https://iam.api.cloud.yandex.net/iam/v1/tokens`. */
export async function exchangeOauthToken(oauthToken: string): Promise<string> {
  const response = await request('https://iam.api.cloud.yandex.net/iam/v1/tokens', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ yandexPassportOauthToken: oauthToken }),
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const body = (await response.body.json().catch(() => ({}))) as { iamToken?: unknown; message?: unknown };
  if (response.statusCode !== 200 || typeof body.iamToken !== 'string') {
    const detail = typeof body.message === 'string' ? `: ${body.message}` : '';
    throw new Error(
      `exchanging YC_OAUTH_TOKEN for an IAM token failed (HTTP ${response.statusCode})${detail}`,
    );
  }
  return body.iamToken;
}

function text(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}
