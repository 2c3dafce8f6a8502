/**
 * Removes one stage: only resources whose exact name belongs to it, so no other stage is touched.
 * The database (the run history) stays unless `deleteDatabase`. Order: what fires first (gateway,
 * triggers), then the functions, memberships, queues (with the admin key, before its account
 * goes), secrets, roles and accounts.
 */
import { folderBindings, projectBindings, removeBindings, serviceAccount } from './access-bindings.ts';
import { isPermissionDenied } from './cloud-http.ts';
import { deleteResource } from './delete-resource.ts';
import type { DeployContext } from './deploy-context.ts';
import { ADMIN_KEY_ENTRIES, existingAccounts } from './deploy-stage.ts';
import { allFolderRoles } from './ensure-accounts.ts';
import { findDatabase } from './ensure-database.ts';
import { listFunctions } from './ensure-functions.ts';
import { deleteGateway, findGateway } from './ensure-gateway.ts';
import { adminCommand } from './ensure-project-access.ts';
import { deleteTrigger, listTriggers } from './ensure-triggers.ts';
import { deleteSecret, findSecret, readSecret } from './lockbox-secrets.ts';
import type { AccountRole } from './stage-names.ts';

export interface RemoveOptions {
  readonly projects: readonly string[] | '*';
  readonly projectRole: string;
  readonly deleteDatabase: boolean;
}

/** Returns warnings (things left for a person to do). */
export async function removeStage(ctx: DeployContext, options: RemoveOptions): Promise<string[]> {
  const { names } = ctx;
  const warnings: string[] = [];
  const gateway = await findGateway(ctx);
  if (gateway !== undefined) await deleteGateway(ctx, gateway);
  for (const trigger of await listTriggers(ctx)) {
    if ((Object.values(names.triggers) as string[]).includes(trigger.name)) await deleteTrigger(ctx, trigger);
  }
  for (const fn of await listFunctions(ctx)) {
    if (!(Object.values(names.functions) as string[]).includes(fn.name)) continue;
    await deleteResource(
      ctx,
      `${ctx.endpoints.functions}/functions/v1/functions/${encodeURIComponent(fn.id)}`,
      `function ${fn.name}`,
    );
  }
  const ids = await existingAccounts(ctx);
  if (ids.functions !== undefined && options.projects !== '*') {
    const binding = { roleId: options.projectRole, subject: serviceAccount(ids.functions) };
    for (const projectId of options.projects) {
      try {
        const removed = await removeBindings(
          ctx.http,
          projectBindings(ctx.endpoints, projectId),
          [binding],
          ctx.wait,
        );
        if (removed.length > 0)
          ctx.log(`removed ${names.accounts.functions} from DataSphere project ${projectId}`);
      } catch (error) {
        if (!isPermissionDenied(error)) throw error;
        warnings.push(
          `a project admin of ${projectId} may remove the membership: ` +
            adminCommand(ctx.endpoints.datasphere, projectId, binding).replace(
              '"action":"ADD"',
              '"action":"REMOVE"',
            ),
        );
      }
    }
  }
  const deploySecret = await findSecret(ctx, names.secrets.deploy);
  if (deploySecret !== undefined) {
    const stored = await readSecret(ctx, deploySecret);
    const accessKeyId = stored.entries[ADMIN_KEY_ENTRIES.id];
    const secretAccessKey = stored.entries[ADMIN_KEY_ENTRIES.secret];
    if (accessKeyId !== undefined && secretAccessKey !== undefined && ids.queues !== undefined) {
      const ymq = ctx.ymq({ accessKeyId, secretAccessKey }, false);
      for (const name of Object.values(names.queues)) {
        const url = await ymq.getQueueUrl(name);
        if (url === undefined) continue;
        await ymq.deleteQueue(url);
        ctx.log(`deleted queue ${name}`);
      }
    }
  }
  for (const name of Object.values(names.secrets)) {
    const secret = await findSecret(ctx, name);
    if (secret !== undefined) await deleteSecret(ctx, secret);
  }
  const unwanted = Object.entries(ids).flatMap(([role, id]) =>
    allFolderRoles(role as AccountRole).map((roleId) => ({ roleId, subject: serviceAccount(id) })),
  );
  if (unwanted.length > 0) {
    const removed = await removeBindings(
      ctx.http,
      folderBindings(ctx.endpoints, ctx.folderId),
      unwanted,
      ctx.wait,
    );
    if (removed.length > 0) ctx.log(`revoked ${removed.length} folder role(s) of the stage's accounts`);
  }
  for (const [role, id] of Object.entries(ids)) {
    await deleteResource(
      ctx,
      `${ctx.endpoints.iam}/iam/v1/serviceAccounts/${encodeURIComponent(id)}`,
      `service account ${names.accounts[role as AccountRole]}`,
    );
  }
  const database = await findDatabase(ctx);
  if (database !== undefined) {
    if (options.deleteDatabase) {
      await deleteResource(
        ctx,
        `${ctx.endpoints.ydb}/ydb/v1/databases/${encodeURIComponent(database.id)}`,
        `database ${database.name}`,
      );
    } else {
      warnings.push(`kept database ${database.name} (the run history); --delete-database removes it too`);
    }
  }
  return warnings;
}
