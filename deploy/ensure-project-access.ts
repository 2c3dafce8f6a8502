/**
 * Makes the functions' account a member of each DataSphere project in ALLOWED_PROJECTS, through the
 * project's own access bindings (DataSphere API v2 `Project.UpdateAccessBindings`, `PATCH
 * /datasphere/v2/projects/{id}:updateAccessBindings`). A folder role does not give project access:
 * without membership Execute answers 403 (issue #15).
 *
 * Role: `datasphere.community-projects.developer` by default. Running notebooks needs Developer on
 * the project; Editor adds project settings and deletion, which the runner never needs
 * (docs en/datasphere/security, shared reference api.md §10). DATASPHERE_PROJECT_ROLE can raise it.
 *
 * Changing project members needs the project's Admin role. A deployer without it gets
 * PERMISSION_DENIED: the deploy then stops before any trigger exists and prints, per project, the
 * one command a project admin runs.
 */
import {
  type AccessBinding,
  listBindings,
  missingBindings,
  projectBindings,
  serviceAccount,
} from './access-bindings.ts';
import { isPermissionDenied, waitForOperation } from './cloud-http.ts';
import type { DeployContext } from './deploy-context.ts';

export const DEFAULT_PROJECT_ROLE = 'datasphere.community-projects.developer';
export const PROJECT_ROLES = [
  'datasphere.community-projects.developer',
  'datasphere.community-projects.editor',
  'datasphere.community-projects.admin',
] as const;

/** The deployer may not change the members of these projects; `commands` are for a project admin. */
export class ProjectAccessDenied extends Error {
  readonly projects: readonly string[];
  readonly commands: readonly string[];
  constructor(projects: readonly string[], commands: readonly string[]) {
    super(
      `you may not add members to DataSphere project${projects.length === 1 ? '' : 's'} ${projects.join(', ')}`,
    );
    this.name = 'ProjectAccessDenied';
    this.projects = projects;
    this.commands = commands;
  }
}

/** The command a project admin runs to add the binding (REST, so it needs nothing but yc and curl). */
export function adminCommand(datasphereEndpoint: string, projectId: string, binding: AccessBinding): string {
  const body = JSON.stringify({ accessBindingDeltas: [{ action: 'ADD', accessBinding: binding }] });
  return [
    `curl -sS -X PATCH -H "Authorization: Bearer $(yc iam create-token)" -H 'Content-Type: application/json'`,
    `${datasphereEndpoint}/datasphere/v2/projects/${projectId}:updateAccessBindings`,
    `-d '${body}'`,
  ].join(' ');
}

export function projectBinding(role: string, functionsAccountId: string): AccessBinding {
  return { roleId: role, subject: serviceAccount(functionsAccountId) };
}

/**
 * Adds the missing memberships. Reads first, so a second run makes no mutating call.
 * @throws ProjectAccessDenied listing every project the deployer could not change (after trying all).
 */
export async function ensureProjectAccess(
  ctx: DeployContext,
  projects: readonly string[],
  role: string,
  functionsAccountId: string,
): Promise<void> {
  const binding = projectBinding(role, functionsAccountId);
  const denied: string[] = [];
  for (const projectId of projects) {
    const target = projectBindings(ctx.endpoints, projectId);
    try {
      if (missingBindings(await listBindings(ctx.http, target), [binding]).length === 0) continue;
      const answer = await ctx.http.call(target.updateMethod, target.updateUrl, {
        accessBindingDeltas: [{ action: 'ADD', accessBinding: binding }],
      });
      await waitForOperation(
        ctx.http,
        answer,
        `adding ${ctx.names.accounts.functions} to project ${projectId}`,
        ctx.wait,
      );
      ctx.log(`added ${ctx.names.accounts.functions} to DataSphere project ${projectId} as ${role}`);
    } catch (error) {
      if (
        !isPermissionDenied(error) &&
        !(error instanceof Error && 'rpcCode' in error && error.rpcCode === 7)
      ) {
        throw error;
      }
      denied.push(projectId);
    }
  }
  if (denied.length > 0) {
    throw new ProjectAccessDenied(
      denied,
      denied.map((id) => adminCommand(ctx.endpoints.datasphere, id, binding)),
    );
  }
}

/** Projects in which the account lacks the role (read only; for the verification). */
export async function projectsLackingAccess(
  ctx: DeployContext,
  projects: readonly string[],
  role: string,
  functionsAccountId: string,
): Promise<string[]> {
  const problems: string[] = [];
  for (const projectId of projects) {
    try {
      const bindings = await listBindings(ctx.http, projectBindings(ctx.endpoints, projectId));
      if (missingBindings(bindings, [projectBinding(role, functionsAccountId)]).length > 0) {
        problems.push(
          `DataSphere project ${projectId}: ${ctx.names.accounts.functions} is not a member with ${role}`,
        );
      }
    } catch (error) {
      problems.push(
        `DataSphere project ${projectId}: cannot read its members (${error instanceof Error ? error.message : String(error)})`,
      );
    }
  }
  return problems;
}
