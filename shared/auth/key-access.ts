import { isProjectAllowed } from '../config.ts';
import type { CallerAccess } from '../core/ports.ts';
import type { ApiKeyEntry } from './api-keys.ts';

/** The access of an API key: its listed projects (or `*`), within ALLOWED_PROJECTS. Decided without I/O. */
export function keyAccess(entry: ApiKeyEntry, allowedProjects: '*' | ReadonlySet<string>): CallerAccess {
  const known = (projectId: string): boolean =>
    isProjectAllowed(allowedProjects, projectId) && isProjectAllowed(entry.projects, projectId);
  return {
    caller: `key:${entry.name}`,
    // Found among API_KEYS before this access was made: known good.
    verify: () => Promise.resolve(),
    known,
    mayAct: (projectId) => Promise.resolve(known(projectId)),
  };
}
