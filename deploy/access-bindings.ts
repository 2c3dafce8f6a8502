/**
 * Role bindings on one resource (folder, function, Lockbox secret, DataSphere project), read and
 * changed through the resource's own `ListAccessBindings` / `UpdateAccessBindings` REST methods
 * (`access.UpdateAccessBindingsRequest`: `accessBindingDeltas[] {action ADD|REMOVE, accessBinding
 * {roleId, subject {id, type}}}`). Only missing bindings are added, so a second run changes nothing.
 */
import { type CloudHttp, type WaitOptions, waitForOperation } from './cloud-http.ts';
import { listAll } from './list-all.ts';
import type { YandexEndpoints } from './yandex-endpoints.ts';

export interface AccessBinding {
  readonly roleId: string;
  readonly subject: { readonly id: string; readonly type: string };
}

export interface BindingTarget {
  /** For messages: `folder b1g…`, `function datasphere-runner-prod-check`. */
  readonly label: string;
  readonly listUrl: string;
  readonly updateUrl: string;
  readonly updateMethod: 'POST' | 'PATCH';
}

/** A resource with the usual `:listAccessBindings` / `POST :updateAccessBindings` pair at `base`. */
const standardTarget = (base: string, label: string): BindingTarget => ({
  label,
  listUrl: `${base}:listAccessBindings`,
  updateUrl: `${base}:updateAccessBindings`,
  updateMethod: 'POST',
});

export const folderBindings = (endpoints: YandexEndpoints, folderId: string): BindingTarget =>
  standardTarget(
    `${endpoints.resourceManager}/resource-manager/v1/folders/${encodeURIComponent(folderId)}`,
    `folder ${folderId}`,
  );

export const functionBindings = (
  endpoints: YandexEndpoints,
  functionId: string,
  name: string,
): BindingTarget =>
  standardTarget(
    `${endpoints.functions}/functions/v1/functions/${encodeURIComponent(functionId)}`,
    `function ${name}`,
  );

export const secretBindings = (endpoints: YandexEndpoints, secretId: string, name: string): BindingTarget =>
  standardTarget(
    `${endpoints.lockbox}/lockbox/v1/secrets/${encodeURIComponent(secretId)}`,
    `Lockbox secret ${name}`,
  );

/** DataSphere names its list method `:accessBindings` and updates with PATCH (project_service.proto). */
export function projectBindings(endpoints: YandexEndpoints, projectId: string): BindingTarget {
  const base = `${endpoints.datasphere}/datasphere/v2/projects/${encodeURIComponent(projectId)}`;
  return {
    label: `DataSphere project ${projectId}`,
    listUrl: `${base}:accessBindings`,
    updateUrl: `${base}:updateAccessBindings`,
    updateMethod: 'PATCH',
  };
}

export const serviceAccount = (id: string): AccessBinding['subject'] => ({ id, type: 'serviceAccount' });

const same = (a: AccessBinding, b: AccessBinding): boolean =>
  a.roleId === b.roleId && a.subject.id === b.subject.id && a.subject.type === b.subject.type;

export async function listBindings(http: CloudHttp, target: BindingTarget): Promise<AccessBinding[]> {
  return listAll<AccessBinding>(http, `${target.listUrl}?pageSize=1000`, 'accessBindings');
}

/** The wanted bindings that `current` lacks. */
export function missingBindings(
  current: readonly AccessBinding[],
  wanted: readonly AccessBinding[],
): AccessBinding[] {
  return wanted.filter((w) => !current.some((c) => same(c, w)));
}

/**
 * Adds the wanted bindings the target lacks, in one call; returns what was added (`[]` = nothing
 * to do, and no mutating call was made).
 */
export async function addBindings(
  http: CloudHttp,
  target: BindingTarget,
  wanted: readonly AccessBinding[],
  wait: WaitOptions,
): Promise<AccessBinding[]> {
  const missing = missingBindings(await listBindings(http, target), wanted);
  if (missing.length === 0) return [];
  await changeBindings(http, target, 'ADD', missing, wait);
  return missing;
}

/**
 * Adds the wanted bindings the target lacks and removes the unwanted ones it holds, in one call
 * after one read (none when nothing differs).
 */
export async function syncBindings(
  http: CloudHttp,
  target: BindingTarget,
  wanted: readonly AccessBinding[],
  unwanted: readonly AccessBinding[],
  wait: WaitOptions,
): Promise<{ added: AccessBinding[]; removed: AccessBinding[] }> {
  const current = await listBindings(http, target);
  const added = missingBindings(current, wanted);
  const removed = unwanted.filter((u) => current.some((c) => same(c, u)));
  if (added.length === 0 && removed.length === 0) return { added, removed };
  const answer = await http.call(target.updateMethod, target.updateUrl, {
    accessBindingDeltas: [
      ...added.map((accessBinding) => ({ action: 'ADD', accessBinding })),
      ...removed.map((accessBinding) => ({ action: 'REMOVE', accessBinding })),
    ],
  });
  await waitForOperation(http, answer, `changing roles on ${target.label}`, wait);
  return { added, removed };
}

/** Removes those of `unwanted` the target holds; returns what was removed. */
export async function removeBindings(
  http: CloudHttp,
  target: BindingTarget,
  unwanted: readonly AccessBinding[],
  wait: WaitOptions,
): Promise<AccessBinding[]> {
  const current = await listBindings(http, target);
  const present = unwanted.filter((u) => current.some((c) => same(c, u)));
  if (present.length === 0) return [];
  await changeBindings(http, target, 'REMOVE', present, wait);
  return present;
}

async function changeBindings(
  http: CloudHttp,
  target: BindingTarget,
  action: 'ADD' | 'REMOVE',
  bindings: readonly AccessBinding[],
  wait: WaitOptions,
): Promise<void> {
  const answer = await http.call(target.updateMethod, target.updateUrl, {
    accessBindingDeltas: bindings.map((accessBinding) => ({ action, accessBinding })),
  });
  await waitForOperation(
    http,
    answer,
    `${action === 'ADD' ? 'granting' : 'revoking'} roles on ${target.label}`,
    wait,
  );
}
