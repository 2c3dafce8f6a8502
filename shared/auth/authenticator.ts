import type { CallerAccess } from '../core/ports.ts';
import { type ApiKeyEntry, findApiKey } from './api-keys.ts';
import { readCredential, unauthenticated } from './credentials.ts';
import { createDecisionCache, type DecisionCache } from './decision-cache.ts';
import { keyAccess } from './key-access.ts';
import { type ProjectReader, type TokenDecision, tokenAccess } from './token-access.ts';

export interface AuthenticatorOptions {
  readonly apiKeys: readonly ApiKeyEntry[];
  readonly allowedProjects: '*' | ReadonlySet<string>;
  readonly readProject: ProjectReader;
  /** How long a token's decision for a project holds. @default 60 */
  readonly cacheSeconds?: number;
  /** @default 1000 */
  readonly cacheEntries?: number;
  /**
   * Told every credential presented, right or wrong, before anything else happens, so it can never reach
   * a log line, an answer or the ledger (the function runtime's redactor).
   */
  readonly learn: (secret: string) => void;
  readonly now?: () => number;
}

export interface Authenticator {
  /**
   * The caller of one gateway call, from its headers. Throws UNAUTHENTICATED for no credential, a
   * malformed one or an unknown API key: decided here, without any I/O. A token is only known good or
   * bad once DataSphere is asked about a project (CallerAccess.mayAct).
   */
  authenticate(header: (name: string) => string | undefined): CallerAccess;
  /** The token decisions kept (for tests and figures). */
  readonly cache: DecisionCache<TokenDecision>;
}

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const cache = createDecisionCache<TokenDecision>({
    ttlMs: (options.cacheSeconds ?? 60) * 1000,
    maxEntries: options.cacheEntries ?? 1000,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  return {
    cache,
    authenticate(header) {
      const credential = readCredential(header);
      options.learn(credential.kind === 'key' ? credential.key : credential.token);
      if (credential.kind === 'token') {
        return tokenAccess(credential.token, {
          readProject: options.readProject,
          cache,
          allowedProjects: options.allowedProjects,
        });
      }
      const entry = findApiKey(options.apiKeys, credential.key);
      if (entry === undefined) {
        throw unauthenticated(
          options.apiKeys.length === 0
            ? 'X-Api-Key: no API keys are configured here (API_KEYS); send an IAM token in Authorization'
            : 'X-Api-Key: not a known API key',
          'X-Api-Key',
        );
      }
      return keyAccess(entry, options.allowedProjects);
    },
  };
}
