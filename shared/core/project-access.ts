import { RunnerError } from '../errors.ts';
import type { CallerAccess } from './ports.ts';

/**
 * A gateway caller's own right to the project it names (design.md §8): FORBIDDEN naming `projectId`
 * when its credentials do not reach it. Nothing to check without `access` (a trigger, an internal call).
 */
export async function assertMayAct(
  access: CallerAccess | undefined,
  projectId: string,
  signal?: AbortSignal,
): Promise<void> {
  if (access === undefined || (await access.mayAct(projectId, signal))) return;
  throw new RunnerError(
    'FORBIDDEN',
    `projectId: these credentials do not give access to project ${projectId}`,
    {
      details: { field: 'projectId', projectId },
    },
  );
}
