/**
 * Where the CLI sends its requests and with which credentials (design.md §8): `--url`, else
 * DATASPHERE_RUNNER_URL, else the local `npm start` front door; `--token` / YC_IAM_TOKEN sent as
 * `Authorization: Bearer`, `--api-key` / DATASPHERE_RUNNER_API_KEY sent as `X-Api-Key`. Options win
 * over the environment. Credentials are never printed: errors about them name the option, not the value.
 */
import { DEFAULT_URL, type OptionValues, UsageError } from './arguments.ts';
import type { Target } from './service-client.ts';

type Env = Readonly<Record<string, string | undefined>>;

const given = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;

/** Header-safe: printable ASCII, no spaces (a pasted newline would otherwise reach the header). */
const CREDENTIAL = /^[\x21-\x7e]+$/;

export interface ResolvedTarget extends Target {
  /** A warning for stderr, e.g. credentials about to cross the network unencrypted. */
  readonly warning?: string;
}

export function resolveTarget(values: OptionValues, env: Env): ResolvedTarget {
  const url = given(values.url) ?? given(env.DATASPHERE_RUNNER_URL) ?? DEFAULT_URL;
  const source =
    given(values.url) !== undefined
      ? '--url'
      : given(env.DATASPHERE_RUNNER_URL)
        ? 'DATASPHERE_RUNNER_URL'
        : 'the default URL';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(
      `${source}: "${url}" is not a URL (expected e.g. https://<gateway>.apigw.yandexcloud.net)`,
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`${source}: "${url}" must start with http:// or https://`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new UsageError(`${source}: put credentials in --token or --api-key, not in the URL`);
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new UsageError(`${source}: "${url}" must be a base URL without ? or #`);
  }
  const token = credential(values.token, '--token', env.YC_IAM_TOKEN, 'YC_IAM_TOKEN');
  const apiKey = credential(
    values['api-key'],
    '--api-key',
    env.DATASPHERE_RUNNER_API_KEY,
    'DATASPHERE_RUNNER_API_KEY',
  );
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
  const warning =
    parsed.protocol === 'http:' && !loopback && (token !== undefined || apiKey !== undefined)
      ? `warning: sending credentials to ${parsed.host} over plain http; use https`
      : undefined;
  return {
    url: url.replace(/\/+$/, ''),
    ...(token === undefined ? {} : { token }),
    ...(apiKey === undefined ? {} : { apiKey }),
    ...(warning === undefined ? {} : { warning }),
  };
}

function credential(option: unknown, optionName: string, envValue: string | undefined, envName: string) {
  const fromOption = given(option);
  const value = fromOption ?? given(envValue);
  if (value === undefined) return undefined;
  if (!CREDENTIAL.test(value)) {
    throw new UsageError(
      `${fromOption === undefined ? envName : optionName}: not a valid credential (it has spaces or control characters)`,
    );
  }
  return value;
}
