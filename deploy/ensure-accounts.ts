/**
 * The stage's service accounts and their folder roles. The deploy, not the Serverless plugin, owns
 * them (the plugin deletes and recreates an account whose roles change, and its `remove` deletes
 * accounts by a name shared by every stage: issue #15).
 *
 * | account | folder roles | why |
 * |---|---|---|
 * | functions | ydb.editor | the ledger (Document API with the function's IAM token); YDB grants have no REST method |
 * | functions | monitoring.editor (metrics on) | each sweep writes its metrics to Monitoring (`data/write`); Monitoring roles exist only on a folder or cloud, and monitoring.editor is the documented one for uploading metrics |
 * | invoker | ymq.reader | the queue triggers read the run and cancel queues (the invoker role is granted per function) |
 * | queues | ymq.admin | the deploy creates and checks the queues with this account's static key |
 * | sender | ymq.writer | check sends reports to NOTIFY_QUEUE_URL with this account's static key (only when needed) |
 */
import { folderBindings, serviceAccount, syncBindings } from './access-bindings.ts';
import { waitForOperation } from './cloud-http.ts';
import type { DeployContext } from './deploy-context.ts';
import { listInFolder } from './list-all.ts';
import type { AccountRole } from './stage-names.ts';

export const FOLDER_ROLES: Readonly<Record<AccountRole, readonly string[]>> = {
  functions: ['ydb.editor'],
  invoker: ['ymq.reader'],
  queues: ['ymq.admin'],
  sender: ['ymq.writer'],
};
/** Lets the check function write the sweep's metrics to Monitoring (metrics on). */
export const METRICS_ROLE = 'monitoring.editor';

export interface RoleOptions {
  /** The sweep writes metrics: the functions' account gets METRICS_ROLE. */
  readonly metrics: boolean;
}

/** The folder roles of one account of the stage. */
export function folderRoles(role: AccountRole, options: RoleOptions): readonly string[] {
  return role === 'functions' && options.metrics ? [...FOLDER_ROLES[role], METRICS_ROLE] : FOLDER_ROLES[role];
}

/** Every folder role the deploy may have granted an account (what `--remove` takes back). */
export function allFolderRoles(role: AccountRole): readonly string[] {
  return folderRoles(role, { metrics: true });
}

const DESCRIPTIONS: Readonly<Record<AccountRole, string>> = {
  functions: 'datasphere-runner: the functions run as this account',
  invoker: 'datasphere-runner: triggers and the API gateway invoke the functions as this account',
  queues: 'datasphere-runner: the deploy manages the queues with this account static key',
  sender: 'datasphere-runner: the check function sends reports to a queue with this account static key',
};

export interface CloudServiceAccount {
  readonly id: string;
  readonly name: string;
}

export type AccountIds = Partial<Record<AccountRole, string>>;

export async function listServiceAccounts(ctx: DeployContext): Promise<CloudServiceAccount[]> {
  return listInFolder<CloudServiceAccount>(
    ctx,
    `${ctx.endpoints.iam}/iam/v1/serviceAccounts`,
    'serviceAccounts',
  );
}

/** Creates the missing accounts among `roles`; returns the id of each. */
export async function ensureServiceAccounts(
  ctx: DeployContext,
  roles: readonly AccountRole[],
): Promise<AccountIds> {
  const existing = await listServiceAccounts(ctx);
  const ids: AccountIds = {};
  for (const role of roles) {
    const name = ctx.names.accounts[role];
    const found = existing.find((a) => a.name === name);
    if (found !== undefined) {
      ids[role] = found.id;
      continue;
    }
    const answer = await ctx.http.call('POST', `${ctx.endpoints.iam}/iam/v1/serviceAccounts`, {
      folderId: ctx.folderId,
      name,
      description: DESCRIPTIONS[role],
    });
    const created = await waitForOperation(ctx.http, answer, `creating service account ${name}`, ctx.wait);
    if (typeof created.id !== 'string')
      throw new Error(`creating service account ${name}: no id in the answer`);
    ids[role] = created.id;
    ctx.log(`created service account ${name} (${created.id})`);
  }
  return ids;
}

/**
 * Grants each account its folder roles and takes back the metrics role when metrics are off (only
 * what differs, in one call after one read).
 */
export async function ensureFolderRoles(
  ctx: DeployContext,
  ids: AccountIds,
  options: RoleOptions,
): Promise<void> {
  const wanted = Object.entries(ids).flatMap(([role, id]) =>
    folderRoles(role as AccountRole, options).map((roleId) => ({ roleId, subject: serviceAccount(id) })),
  );
  const unwanted =
    options.metrics || ids.functions === undefined
      ? []
      : [{ roleId: METRICS_ROLE, subject: serviceAccount(ids.functions) }];
  const { added, removed } = await syncBindings(
    ctx.http,
    folderBindings(ctx.endpoints, ctx.folderId),
    wanted,
    unwanted,
    ctx.wait,
  );
  for (const binding of added) ctx.log(`granted ${binding.roleId} on the folder to ${binding.subject.id}`);
  for (const binding of removed)
    ctx.log(`took back ${binding.roleId} on the folder from ${binding.subject.id}`);
}
