import type { Dispatcher } from 'undici';
import { RunnerError } from '../errors.ts';
import { raceAbort } from '../net/race-abort.ts';
import type { TokenSource } from './token-source.ts';

/** The part of a Cloud Functions invocation context the token provider reads. */
export interface TokenContext {
  readonly token?: { readonly access_token?: string; readonly expires_in?: number } | undefined;
}

export interface TokenProviderOptions {
  /** The environment (a plain object in tests); `YC_IAM_TOKEN` and `YC_METADATA_ADDR` are read. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** For the metadata service. */
  readonly dispatcher: Dispatcher;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default http://$YC_METADATA_ADDR/computeMetadata/v1/instance/service-accounts/default/token, or 169.254.169.254 */
  readonly metadataUrl?: string;
  /**
   * Refresh a cached metadata token this long before it expires (at most 10 % of its lifetime, so
   * short-lived tokens are cached too). @default 300000
   */
  readonly refreshMarginMs?: number;
  /** Per-attempt timeout for the metadata service. @default 1500 */
  readonly metadataTimeoutMs?: number;
  /** Attempts at the metadata service per refresh. @default 2 */
  readonly metadataAttempts?: number;
}

export interface TokenProvider {
  /** The token source for one invocation: its context token, else YC_IAM_TOKEN, else the metadata service. */
  forContext(context?: TokenContext): TokenSource;
}

export const DEFAULT_METADATA_HOST = '169.254.169.254';
const METADATA_PATH = '/computeMetadata/v1/instance/service-accounts/default/token';
/** Assumed lifetime when the metadata answer carries no `expires_in`. */
const FALLBACK_LIFETIME_MS = 60_000;

interface CachedToken {
  readonly token: string;
  readonly refreshAt: number;
  readonly expiresAt: number;
}

/**
 * IAM tokens, in the order design.md §3 gives: the invocation context's token (per invocation, not
 * cached), `YC_IAM_TOKEN`, then the VM/function metadata service. A metadata token is cached until
 * shortly before it expires and shared by concurrent callers (one fetch in flight); if a refresh fails
 * while the cached token is still valid, the cached one is used. No token at all → RunnerError
 * AUTH_UNAVAILABLE saying what was tried. The token itself never appears in any message.
 */
export function createTokenProvider(options: TokenProviderOptions): TokenProvider {
  const now = options.now ?? Date.now;
  const margin = options.refreshMarginMs ?? 300_000;
  const timeoutMs = options.metadataTimeoutMs ?? 1_500;
  const attempts = Math.max(1, options.metadataAttempts ?? 2);
  const url = new URL(options.metadataUrl ?? metadataUrlFor(options.env.YC_METADATA_ADDR));
  // Read once, like the rest of the environment: not again on every API call of a warm instance.
  const envToken = options.env.YC_IAM_TOKEN?.trim();
  let cached: CachedToken | undefined;
  let inflight: Promise<string> | undefined;

  async function fetchOnce(): Promise<{ token: string; lifetimeMs: number }> {
    const res = await options.dispatcher.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers: { 'metadata-flavor': 'Google', accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await res.body.text();
    // Never quote the body: on success it is the token.
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error('answer is not JSON');
    }
    const body = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
    if (typeof body.access_token !== 'string' || body.access_token === '') {
      throw new Error('answer has no access_token');
    }
    const seconds = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : undefined;
    return {
      token: body.access_token,
      lifetimeMs: seconds === undefined ? FALLBACK_LIFETIME_MS : seconds * 1000,
    };
  }

  async function refresh(): Promise<string> {
    const reasons: string[] = [];
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const started = now();
        const { token, lifetimeMs } = await fetchOnce();
        const expiresAt = started + lifetimeMs;
        cached = { token, expiresAt, refreshAt: expiresAt - Math.min(margin, lifetimeMs * 0.1) };
        return token;
      } catch (error) {
        reasons.push(describe(error, timeoutMs));
      }
    }
    if (cached && now() < cached.expiresAt) return cached.token;
    throw new RunnerError(
      'AUTH_UNAVAILABLE',
      'No IAM token: the invocation context carries none (does the function have a service account?), ' +
        `YC_IAM_TOKEN is not set, and the metadata service at ${url.origin}${url.pathname} failed ` +
        `(${unique(reasons).join('; ')})`,
      { details: { metadataUrl: `${url.origin}${url.pathname}` } },
    );
  }

  function metadataToken(signal?: AbortSignal): Promise<string> {
    if (cached && now() < cached.refreshAt) return Promise.resolve(cached.token);
    if (!inflight) {
      inflight = refresh().finally(() => {
        inflight = undefined;
      });
    }
    // The refresh is shared by every caller: a caller's abort ends its wait, not the fetch.
    return raceAbort(inflight, signal);
  }

  return {
    forContext(context) {
      const contextToken = context?.token?.access_token;
      if (typeof contextToken === 'string' && contextToken !== '') {
        return { getToken: async () => contextToken };
      }
      return {
        getToken(signal) {
          if (envToken) return Promise.resolve(envToken);
          return metadataToken(signal);
        },
      };
    },
  };
}

/** The metadata token URL for `YC_METADATA_ADDR` (`host`, `host:port` or a URL), as python-sdk reads it. */
export function metadataUrlFor(address: string | undefined): string {
  const host = address?.trim() || DEFAULT_METADATA_HOST;
  const origin = /^https?:\/\//i.test(host) ? host.replace(/\/+$/, '') : `http://${host}`;
  return `${origin}${METADATA_PATH}`;
}

function describe(error: unknown, timeoutMs: number): string {
  const name = (error as { name?: unknown })?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && code.startsWith('UND_ERR_') && code.includes('TIMEOUT')) {
    return `no answer within ${timeoutMs} ms`;
  }
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}
