import { createHash } from 'node:crypto';
import { isApiError } from '../api/api-error.ts';
import { isProjectAllowed } from '../config.ts';
import type { CallerAccess } from '../core/ports.ts';
import { unauthenticated } from './credentials.ts';
import type { DecisionCache } from './decision-cache.ts';

/**
 * Reads project `projectId` with the CALLER's IAM token (DataSphere Project.Get): resolves when DataSphere
 * lets that token read the project; throws the API's error otherwise.
 */
export type ProjectReader = (token: string, projectId: string, signal?: AbortSignal) => Promise<void>;

/**
 * Cached per (token, project): read it, not read it, or nothing at all (the token is invalid); and per
 * token: `valid` once any answer showed that DataSphere accepts it, `invalid` once one showed it does not.
 */
export type TokenDecision = 'readable' | 'unreadable' | 'invalid' | 'valid';

/**
 * The project a token is tried on when it must be known good before any project is known (a status or
 * list call: the ledger is not read for a token that may be invalid). DataSphere authenticates before it
 * looks a project up, so any answer but 401 shows the token is good, whether it can read the project or
 * not: the first ALLOWED_PROJECTS entry (often the caller's own project, so the decision is of use), else
 * an id no project has.
 */
export const TOKEN_PROBE_PROJECT = 'datasphere-runner-token-check';

export interface TokenAccessOptions {
  readonly readProject: ProjectReader;
  /** Shared by every invocation of the instance; keyed by a hash of the token, never the token. */
  readonly cache: DecisionCache<TokenDecision>;
  readonly allowedProjects: '*' | ReadonlySet<string>;
}

/** SHA-256 of a token, hex: the cache key and (its start) the caller's name in logs. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * The access of an IAM token (design.md §8): it may act on project P only if DataSphere lets that token
 * read P, so access follows the project's own IAM. One Project.Get per (token, project) per cache
 * lifetime; a token found invalid is refused for every project from then on without a call. A project
 * outside ALLOWED_PROJECTS is refused without a call.
 */
export function tokenAccess(token: string, options: TokenAccessOptions): CallerAccess {
  const hash = tokenHash(token);
  const { cache, allowedProjects } = options;
  const key = (projectId: string) => `${hash}\u0000${projectId}`;
  const allowed = (projectId: string) => isProjectAllowed(allowedProjects, projectId);
  const invalid = () =>
    unauthenticated('Authorization: the IAM token is invalid or has expired', 'Authorization');

  const known = (projectId: string): boolean | undefined => {
    if (!allowed(projectId)) return false;
    if (cache.get(hash) === 'invalid') return undefined;
    const decision = cache.get(key(projectId));
    return decision === 'readable' ? true : decision === 'unreadable' ? false : undefined;
  };

  /** The decision for one project: from the cache, or one Project.Get with the caller's token. */
  const decide = async (projectId: string, signal: AbortSignal | undefined): Promise<boolean> => {
    if (cache.get(hash) === 'invalid') throw invalid();
    const decision = await cache.resolve(key(projectId), async () => {
      try {
        await options.readProject(token, projectId, signal);
        return 'readable';
      } catch (error) {
        const verdict = verdictOf(error);
        if (verdict === undefined) throw error;
        return verdict;
      }
    });
    if (decision === 'invalid') {
      cache.set(hash, 'invalid');
      throw invalid();
    }
    cache.set(hash, 'valid');
    return decision === 'readable';
  };

  return {
    // `iam:`, not `token:`: the redactor masks whatever follows `token:` in a log line.
    caller: `iam:${hash.slice(0, 12)}`,
    async verify(signal) {
      const state = cache.get(hash);
      if (state === 'valid') return;
      if (state === 'invalid') throw invalid();
      const probe =
        allowedProjects === '*'
          ? TOKEN_PROBE_PROJECT
          : ([...allowedProjects].sort()[0] ?? TOKEN_PROBE_PROJECT);
      await decide(probe, signal);
    },
    known,
    async mayAct(projectId, signal) {
      if (!allowed(projectId)) return false;
      return decide(projectId, signal);
    },
  };
}

/**
 * What an answer of Project.Get says about the token: 401 (UNAUTHENTICATED) the token is no good;
 * 403, 404, 400 (PERMISSION_DENIED, NOT_FOUND, INVALID_ARGUMENT) this project is not readable with it.
 * Anything else (429, 5xx, a timeout) says nothing: undefined, the error is passed on and not cached.
 */
function verdictOf(error: unknown): TokenDecision | undefined {
  if (!isApiError(error) || error.code !== 'API_ERROR') return undefined;
  if (error.httpStatus === 401 || error.rpcCode === 16) return 'invalid';
  if (error.httpStatus === 403 || error.httpStatus === 404 || error.httpStatus === 400) return 'unreadable';
  if (error.rpcCode === 7 || error.rpcCode === 5 || error.rpcCode === 3) return 'unreadable';
  return undefined;
}
