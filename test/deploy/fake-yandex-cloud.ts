/**
 * A local fake of the Yandex Cloud REST APIs the deploy calls, on 127.0.0.1 (port 0), keeping state
 * in memory and recording every call: Resource Manager (folder, access bindings), IAM (service
 * accounts, static keys), Lockbox (secrets, versions, payload, access bindings), YDB (databases) and
 * its Document API (tables), DataSphere (project access bindings), Functions (functions, versions,
 * access bindings), Triggers, API Gateway, Operations, Monitoring v3 (dashboards with etags, alerts)
 * and Message Queue (SQS query protocol with SigV4). Paths and bodies follow the google.api.http
 * annotations of yandex-cloud/cloudapi and the REST pages of yandex-cloud/docs; answers are the
 * documented JSON (operations for mutating calls).
 *
 * It also answers for every gateway it made, at `/_apigw/<domain>/<path>` (what `endpointsAt`
 * points the deploy's anonymous check at): the route is looked up in the gateway's stored spec, the
 * integration's account must hold serverless.functions.invoker on its function, and the function's
 * `$latest` version really runs: its uploaded index.js, in a fresh node process, with the version's
 * environment and its Lockbox references resolved, given the event the gateway builds (payload 0.1,
 * local/cloud-events.ts) and a token of its service account (accepted here for the Document API).
 * The gateway itself enforces no `security` (Yandex's does so only through an authorizer extension,
 * which the spec does not use): whatever the caller gets is the function's answer.
 *
 * Tests read `calls` (each with a `label` like `functions.createVersion` and whether it mutates),
 * inspect `state`, and inject failures with `failNext`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { parse as parseYaml } from 'yaml';
import { httpEvent } from '../../local/cloud-events.ts';

export interface RecordedCall {
  readonly label: string;
  readonly method: string;
  readonly path: string;
  readonly mutating: boolean;
  readonly body: unknown;
  readonly status: number;
}

interface Binding {
  roleId: string;
  subject: { id: string; type: string };
}
interface Sa {
  id: string;
  name: string;
  folderId: string;
  description?: string;
}
interface Key {
  id: string;
  keyId: string;
  secret: string;
  serviceAccountId: string;
}
interface SecretVersion {
  id: string;
  entries: Record<string, string>;
}
interface Secret {
  id: string;
  name: string;
  folderId: string;
  versions: SecretVersion[];
  bindings: Binding[];
}
interface Database {
  id: string;
  name: string;
  folderId: string;
  status: string;
  serverless: boolean;
  tables: Record<string, { status: string; indexes: string[] }>;
}
interface Fn {
  id: string;
  name: string;
  folderId: string;
  bindings: Binding[];
}
interface Version {
  id: string;
  functionId: string;
  createdAt: string;
  tags: string[];
  body: Record<string, unknown>;
  /** The uploaded zip (`content`), or the source version's (`versionId`). */
  code?: Buffer | undefined;
}
export interface Dashboard {
  id: string;
  folderId: string;
  name: string;
  etag: string;
  labels: Record<string, string>;
  body: Record<string, unknown>;
}
export interface Alert {
  id: string;
  folderId: string;
  name: string;
  body: Record<string, unknown>;
}
export interface GatewayInvocation {
  readonly method: string;
  readonly path: string;
  readonly functionId: string;
  readonly status: number;
  readonly body: string;
}
interface Trigger {
  id: string;
  name: string;
  folderId: string;
  rule: unknown;
  status: string;
  createdAt: string;
}
interface Gateway {
  id: string;
  name: string;
  folderId: string;
  labels: Record<string, string>;
  spec: string;
  domain: string;
}
interface Queue {
  url: string;
  name: string;
  folderId: string;
  attributes: Record<string, string>;
}
interface Project {
  id: string;
  bindings: Binding[];
}
interface Operation {
  id: string;
  done: boolean;
  response?: unknown;
  error?: { code: number; message: string };
  onDone?: () => void;
}

export interface FakeState {
  folderBindings: Binding[];
  serviceAccounts: Sa[];
  accessKeys: Key[];
  secrets: Secret[];
  databases: Database[];
  functions: Fn[];
  versions: Version[];
  triggers: Trigger[];
  gateways: Gateway[];
  queues: Queue[];
  projects: Project[];
  dashboards: Dashboard[];
  alerts: Alert[];
  operations: Map<string, Operation>;
}

export type Failure =
  | { readonly status: number; readonly code: number; readonly message: string }
  | { readonly operationError: string };

export interface FakeOptions {
  readonly token: string;
  readonly folderId: string;
  readonly cloudId: string;
  /** Projects that exist, and whether the deployer may change their members (project admin). */
  readonly projects?: readonly string[];
  readonly deployerIsProjectAdmin?: boolean;
}

export interface FakeYandexCloud {
  readonly url: string;
  readonly calls: RecordedCall[];
  /** What the functions answered through the gateways (`/_apigw/...`). */
  readonly invocations: GatewayInvocation[];
  readonly state: FakeState;
  /** The next call with `label` fails (status/code answer, or an operation that ends in error). */
  failNext(label: string, failure: Failure, times?: number): void;
  setDeployerIsProjectAdmin(value: boolean): void;
  close(): Promise<void>;
}

const ID_PREFIX: Record<string, string> = {
  sa: 'aje',
  key: 'ajk',
  secret: 'e6q',
  version: 'e6v',
  db: 'etn',
  fn: 'd4e',
  fnv: 'd4v',
  trigger: 'a1s',
  gw: 'd5d',
  op: 'op0',
  queue: 'dj6',
  dash: 'fbe',
  alert: 'fbq',
};

export async function startFakeYandexCloud(options: FakeOptions): Promise<FakeYandexCloud> {
  const calls: RecordedCall[] = [];
  const failures = new Map<string, Failure[]>();
  let counter = 0;
  let deployerIsProjectAdmin = options.deployerIsProjectAdmin ?? true;
  const newId = (kind: string): string => {
    counter += 1;
    return `${ID_PREFIX[kind] ?? 'x00'}${String(counter).padStart(17, '0')}`;
  };
  const clock = (): string => new Date(Date.UTC(2026, 0, 1) + counter * 1000).toISOString();
  const state: FakeState = {
    folderBindings: [],
    serviceAccounts: [],
    accessKeys: [],
    secrets: [],
    databases: [],
    functions: [],
    versions: [],
    triggers: [],
    gateways: [],
    queues: [],
    projects: (options.projects ?? []).map((id) => ({ id, bindings: [] })),
    dashboards: [],
    alerts: [],
    operations: new Map(),
  };
  const codeDir = mkdtempSync(join(tmpdir(), 'fake-yandex-functions-'));
  let base = '';

  class HttpError extends Error {
    constructor(
      readonly status: number,
      readonly code: number,
      message: string,
    ) {
      super(message);
    }
  }
  const notFound = (what: string): never => {
    throw new HttpError(404, 5, `${what} not found`);
  };
  let nextOperationError: string | undefined;
  const operation = (_label: string, response: unknown, onDone?: () => void, done = true): Operation => {
    const op: Operation = { id: newId('op'), done };
    if (nextOperationError !== undefined) {
      op.done = true;
      op.error = { code: 13, message: nextOperationError };
      nextOperationError = undefined;
    } else {
      op.response = response;
      if (onDone !== undefined) {
        if (done) onDone();
        else op.onDone = onDone;
      }
    }
    state.operations.set(op.id, op);
    return op;
  };
  const takeFailure = (label: string): Failure | undefined => {
    const queue = failures.get(label);
    const failure = queue?.shift();
    if (queue !== undefined && queue.length === 0) failures.delete(label);
    return failure;
  };
  const applyDeltas = (bindings: Binding[], body: Record<string, unknown>): void => {
    for (const delta of (body.accessBindingDeltas ?? []) as { action: string; accessBinding: Binding }[]) {
      const same = (b: Binding) =>
        b.roleId === delta.accessBinding.roleId && b.subject.id === delta.accessBinding.subject.id;
      if (delta.action === 'ADD' && !bindings.some(same)) bindings.push(structuredClone(delta.accessBinding));
      if (delta.action === 'REMOVE') {
        const index = bindings.findIndex(same);
        if (index >= 0) bindings.splice(index, 1);
      }
    }
  };
  const page = (field: string, items: unknown[]) => ({ [field]: items, nextPageToken: '' });
  const versionView = (v: Version) => ({
    id: v.id,
    functionId: v.functionId,
    createdAt: v.createdAt,
    status: 'ACTIVE',
    tags: v.tags,
    description: v.body.description ?? '',
    runtime: v.body.runtime,
    entrypoint: v.body.entrypoint,
    resources: v.body.resources,
    executionTimeout: v.body.executionTimeout,
    serviceAccountId: v.body.serviceAccountId ?? '',
    environment: v.body.environment ?? {},
    secrets: v.body.secrets ?? [],
  });
  const dbView = (d: Database) => ({
    id: d.id,
    name: d.name,
    folderId: d.folderId,
    status: d.status,
    ...(d.serverless ? { serverlessDatabase: {} } : {}),
    ...(d.status === 'RUNNING'
      ? { documentApiEndpoint: `${base}/docapi/ru-central1/${options.cloudId}/${d.id}` }
      : {}),
  });
  const secretView = (s: Secret) => {
    const current = s.versions.at(-1);
    return {
      id: s.id,
      name: s.name,
      folderId: s.folderId,
      status: 'ACTIVE',
      currentVersion:
        current === undefined
          ? undefined
          : { id: current.id, payloadEntryKeys: Object.keys(current.entries) },
    };
  };
  const byId = <T extends { id: string }>(list: T[], id: string, what: string): T =>
    list.find((x) => x.id === id) ?? notFound(`${what} ${id}`);
  /** Resource labels of Monitoring v3: keys `[a-z][-_./\\@0-9a-z]*` (1-63), values `[-_./\\@0-9a-z]*` (<= 63). */
  const checkLabels = (labels: unknown): void => {
    for (const [key, value] of Object.entries((labels ?? {}) as Record<string, unknown>)) {
      if (
        !/^[a-z][-_./\\@0-9a-z]{0,62}$/.test(key) ||
        typeof value !== 'string' ||
        !/^[-_./\\@0-9a-z]{0,63}$/.test(value)
      )
        throw new HttpError(400, 3, `label ${key}=${String(value)} is not valid`);
    }
  };
  /** The IAM token the platform gives a function running as `serviceAccountId` (context.token). */
  const functionToken = (serviceAccountId: string): string => `t1.fake-function-token-${serviceAccountId}`;

  type Handler = (m: RegExpExecArray, q: URLSearchParams, body: Record<string, unknown>) => unknown;
  const routes: [string, RegExp, string, boolean, Handler][] = [
    [
      'GET',
      /^\/resource-manager\/v1\/folders\/([^/:]+)$/,
      'resourceManager.getFolder',
      false,
      (m) => {
        if (m[1] !== options.folderId) throw new HttpError(403, 7, 'Permission denied');
        return { id: options.folderId, cloudId: options.cloudId, name: 'default', status: 'ACTIVE' };
      },
    ],
    [
      'GET',
      /^\/resource-manager\/v1\/folders\/([^/:]+):listAccessBindings$/,
      'resourceManager.listAccessBindings',
      false,
      () => page('accessBindings', state.folderBindings),
    ],
    [
      'POST',
      /^\/resource-manager\/v1\/folders\/([^/:]+):updateAccessBindings$/,
      'resourceManager.updateAccessBindings',
      true,
      (_m, _q, body) =>
        operation('resourceManager.updateAccessBindings', {}, () => applyDeltas(state.folderBindings, body)),
    ],
    [
      'GET',
      /^\/iam\/v1\/serviceAccounts$/,
      'iam.listServiceAccounts',
      false,
      (_m, q) =>
        page(
          'serviceAccounts',
          state.serviceAccounts.filter((s) => s.folderId === q.get('folderId')),
        ),
    ],
    [
      'POST',
      /^\/iam\/v1\/serviceAccounts$/,
      'iam.createServiceAccount',
      true,
      (_m, _q, body) => {
        const sa: Sa = { id: newId('sa'), name: String(body.name), folderId: String(body.folderId) };
        return operation('iam.createServiceAccount', sa, () => state.serviceAccounts.push(sa));
      },
    ],
    [
      'DELETE',
      /^\/iam\/v1\/serviceAccounts\/([^/:]+)$/,
      'iam.deleteServiceAccount',
      true,
      (m) => {
        const sa = byId(state.serviceAccounts, m[1] ?? '', 'service account');
        return operation('iam.deleteServiceAccount', {}, () => {
          state.serviceAccounts.splice(state.serviceAccounts.indexOf(sa), 1);
          state.accessKeys = state.accessKeys.filter((k) => k.serviceAccountId !== sa.id);
        });
      },
    ],
    [
      'GET',
      /^\/iam\/aws-compatibility\/v1\/accessKeys$/,
      'iam.listAccessKeys',
      false,
      (_m, q) =>
        page(
          'accessKeys',
          state.accessKeys
            .filter((k) => k.serviceAccountId === q.get('serviceAccountId'))
            .map((k) => ({ id: k.id, keyId: k.keyId, serviceAccountId: k.serviceAccountId })),
        ),
    ],
    [
      'POST',
      /^\/iam\/aws-compatibility\/v1\/accessKeys$/,
      'iam.createAccessKey',
      true,
      (_m, _q, body) => {
        byId(state.serviceAccounts, String(body.serviceAccountId), 'service account');
        const key: Key = {
          id: newId('key'),
          keyId: `YCAJ${randomBytes(8).toString('hex')}`,
          secret: `YCfake-${randomBytes(12).toString('hex')}`,
          serviceAccountId: String(body.serviceAccountId),
        };
        state.accessKeys.push(key);
        return {
          accessKey: { id: key.id, keyId: key.keyId, serviceAccountId: key.serviceAccountId },
          secret: key.secret,
        };
      },
    ],
    [
      'GET',
      /^\/lockbox\/v1\/secrets$/,
      'lockbox.listSecrets',
      false,
      (_m, q) =>
        page('secrets', state.secrets.filter((s) => s.folderId === q.get('folderId')).map(secretView)),
    ],
    [
      'POST',
      /^\/lockbox\/v1\/secrets$/,
      'lockbox.createSecret',
      true,
      (_m, _q, body) => {
        const entries = Object.fromEntries(
          ((body.versionPayloadEntries ?? []) as { key: string; textValue: string }[]).map((e) => [
            e.key,
            e.textValue,
          ]),
        );
        const secret: Secret = {
          id: newId('secret'),
          name: String(body.name),
          folderId: String(body.folderId),
          versions: [{ id: newId('version'), entries }],
          bindings: [],
        };
        return operation('lockbox.createSecret', secretView(secret), () => state.secrets.push(secret));
      },
    ],
    [
      'POST',
      /^\/lockbox\/v1\/secrets\/([^/:]+):addVersion$/,
      'lockbox.addVersion',
      true,
      (m, _q, body) => {
        const secret = byId(state.secrets, m[1] ?? '', 'secret');
        const baseVersion =
          secret.versions.find((v) => v.id === body.baseVersionId) ?? secret.versions.at(-1);
        const entries = { ...baseVersion?.entries };
        for (const e of (body.payloadEntries ?? []) as { key: string; textValue: string }[])
          entries[e.key] = e.textValue;
        const version = { id: newId('version'), entries };
        return operation('lockbox.addVersion', { id: version.id, secretId: secret.id }, () =>
          secret.versions.push(version),
        );
      },
    ],
    [
      'DELETE',
      /^\/lockbox\/v1\/secrets\/([^/:]+)$/,
      'lockbox.deleteSecret',
      true,
      (m) => {
        const secret = byId(state.secrets, m[1] ?? '', 'secret');
        return operation('lockbox.deleteSecret', {}, () =>
          state.secrets.splice(state.secrets.indexOf(secret), 1),
        );
      },
    ],
    [
      'GET',
      /^\/lockbox\/v1\/secrets\/([^/:]+)\/payload$/,
      'lockbox.getPayload',
      false,
      (m) => {
        const secret = byId(state.secrets, m[1] ?? '', 'secret');
        const current = secret.versions.at(-1);
        return {
          versionId: current?.id,
          entries: Object.entries(current?.entries ?? {}).map(([key, textValue]) => ({ key, textValue })),
        };
      },
    ],
    [
      'GET',
      /^\/lockbox\/v1\/secrets\/([^/:]+):listAccessBindings$/,
      'lockbox.listAccessBindings',
      false,
      (m) => page('accessBindings', byId(state.secrets, m[1] ?? '', 'secret').bindings),
    ],
    [
      'POST',
      /^\/lockbox\/v1\/secrets\/([^/:]+):updateAccessBindings$/,
      'lockbox.updateAccessBindings',
      true,
      (m, _q, body) => {
        const secret = byId(state.secrets, m[1] ?? '', 'secret');
        return operation('lockbox.updateAccessBindings', {}, () => applyDeltas(secret.bindings, body));
      },
    ],
    [
      'GET',
      /^\/ydb\/v1\/databases$/,
      'ydb.listDatabases',
      false,
      (_m, q) =>
        page('databases', state.databases.filter((d) => d.folderId === q.get('folderId')).map(dbView)),
    ],
    [
      'POST',
      /^\/ydb\/v1\/databases$/,
      'ydb.createDatabase',
      true,
      (_m, _q, body) => {
        const db: Database = {
          id: newId('db'),
          name: String(body.name),
          folderId: String(body.folderId),
          status: 'PROVISIONING',
          serverless: body.serverlessDatabase !== undefined,
          tables: {},
        };
        state.databases.push(db);
        // Not done at once: the deploy must poll the operation, then the database until RUNNING.
        return operation('ydb.createDatabase', dbView(db), () => undefined, false);
      },
    ],
    [
      'GET',
      /^\/ydb\/v1\/databases\/([^/:]+)$/,
      'ydb.getDatabase',
      false,
      (m) => {
        const db = byId(state.databases, m[1] ?? '', 'database');
        const view = dbView(db);
        if (db.status === 'PROVISIONING') db.status = 'RUNNING';
        return view;
      },
    ],
    [
      'DELETE',
      /^\/ydb\/v1\/databases\/([^/:]+)$/,
      'ydb.deleteDatabase',
      true,
      (m) => {
        const db = byId(state.databases, m[1] ?? '', 'database');
        return operation('ydb.deleteDatabase', {}, () =>
          state.databases.splice(state.databases.indexOf(db), 1),
        );
      },
    ],
    [
      'GET',
      /^\/datasphere\/v2\/projects\/([^/:]+):accessBindings$/,
      'datasphere.listProjectAccessBindings',
      false,
      (m) => page('accessBindings', byId(state.projects, m[1] ?? '', 'project').bindings),
    ],
    [
      'PATCH',
      /^\/datasphere\/v2\/projects\/([^/:]+):updateAccessBindings$/,
      'datasphere.updateProjectAccessBindings',
      true,
      (m, _q, body) => {
        const project = byId(state.projects, m[1] ?? '', 'project');
        if (!deployerIsProjectAdmin) throw new HttpError(403, 7, 'Permission denied');
        return operation('datasphere.updateProjectAccessBindings', {}, () =>
          applyDeltas(project.bindings, body),
        );
      },
    ],
    [
      'GET',
      /^\/functions\/v1\/functions$/,
      'functions.listFunctions',
      false,
      (_m, q) =>
        page(
          'functions',
          state.functions
            .filter((f) => f.folderId === q.get('folderId'))
            .map((f) => ({
              id: f.id,
              name: f.name,
              folderId: f.folderId,
              status: 'ACTIVE',
              httpInvokeUrl: `https://functions.yandexcloud.net/${f.id}`,
            })),
        ),
    ],
    [
      'POST',
      /^\/functions\/v1\/functions$/,
      'functions.createFunction',
      true,
      (_m, _q, body) => {
        if (state.functions.some((f) => f.name === body.name && f.folderId === body.folderId))
          throw new HttpError(409, 6, 'function already exists');
        const fn: Fn = {
          id: newId('fn'),
          name: String(body.name),
          folderId: String(body.folderId),
          bindings: [],
        };
        return operation('functions.createFunction', { id: fn.id, name: fn.name }, () =>
          state.functions.push(fn),
        );
      },
    ],
    [
      'DELETE',
      /^\/functions\/v1\/functions\/([^/:]+)$/,
      'functions.deleteFunction',
      true,
      (m) => {
        const fn = byId(state.functions, m[1] ?? '', 'function');
        return operation('functions.deleteFunction', {}, () => {
          state.functions.splice(state.functions.indexOf(fn), 1);
          state.versions = state.versions.filter((v) => v.functionId !== fn.id);
        });
      },
    ],
    [
      'GET',
      /^\/functions\/v1\/versions:byTag$/,
      'functions.getVersionByTag',
      false,
      (_m, q) => {
        const version = state.versions.find(
          (v) => v.functionId === q.get('functionId') && v.tags.includes(q.get('tag') ?? ''),
        );
        return version === undefined ? notFound('version') : versionView(version);
      },
    ],
    [
      'POST',
      /^\/functions\/v1\/versions$/,
      'functions.createVersion',
      true,
      (_m, _q, body) => {
        const fn = byId(state.functions, String(body.functionId), 'function');
        const sources = ['content', 'package', 'versionId'].filter((k) => body[k] !== undefined);
        if (sources.length !== 1) throw new HttpError(400, 3, 'exactly one of content, package, versionId');
        if (typeof body.versionId === 'string') byId(state.versions, body.versionId, 'version');
        for (const name of Object.keys((body.environment ?? {}) as object)) {
          if (
            ((body.secrets ?? []) as { environmentVariable?: string }[]).some(
              (s) => s.environmentVariable === name,
            )
          ) {
            throw new HttpError(400, 3, `${name} is both a variable and a secret`);
          }
        }
        const version: Version = {
          id: newId('fnv'),
          functionId: fn.id,
          createdAt: clock(),
          tags: ['$latest'],
          body: { ...body, content: undefined },
          code:
            typeof body.content === 'string'
              ? Buffer.from(body.content, 'base64')
              : state.versions.find((v) => v.id === body.versionId)?.code,
        };
        return operation('functions.createVersion', versionView(version), () => {
          for (const v of state.versions)
            if (v.functionId === fn.id) v.tags = v.tags.filter((t) => t !== '$latest');
          state.versions.push(version);
        });
      },
    ],
    [
      'GET',
      /^\/functions\/v1\/functions\/([^/:]+):listAccessBindings$/,
      'functions.listAccessBindings',
      false,
      (m) => page('accessBindings', byId(state.functions, m[1] ?? '', 'function').bindings),
    ],
    [
      'POST',
      /^\/functions\/v1\/functions\/([^/:]+):updateAccessBindings$/,
      'functions.updateAccessBindings',
      true,
      (m, _q, body) => {
        const fn = byId(state.functions, m[1] ?? '', 'function');
        return operation('functions.updateAccessBindings', {}, () => applyDeltas(fn.bindings, body));
      },
    ],
    [
      'GET',
      /^\/triggers\/v1\/triggers$/,
      'triggers.listTriggers',
      false,
      (_m, q) =>
        page(
          'triggers',
          state.triggers
            .filter((t) => t.folderId === q.get('folderId'))
            .map((t) => ({
              id: t.id,
              name: t.name,
              folderId: t.folderId,
              createdAt: t.createdAt,
              status: t.status,
              rule: t.rule,
            })),
        ),
    ],
    [
      'POST',
      /^\/triggers\/v1\/triggers$/,
      'triggers.createTrigger',
      true,
      (_m, _q, body) => {
        if (state.triggers.some((t) => t.name === body.name && t.folderId === body.folderId))
          throw new HttpError(409, 6, 'trigger already exists');
        const trigger: Trigger = {
          id: newId('trigger'),
          name: String(body.name),
          folderId: String(body.folderId),
          rule: body.rule,
          status: 'ACTIVE',
          createdAt: clock(),
        };
        return operation('triggers.createTrigger', trigger, () => state.triggers.push(trigger));
      },
    ],
    [
      'DELETE',
      /^\/triggers\/v1\/triggers\/([^/:]+)$/,
      'triggers.deleteTrigger',
      true,
      (m) => {
        const trigger = byId(state.triggers, m[1] ?? '', 'trigger');
        return operation('triggers.deleteTrigger', {}, () =>
          state.triggers.splice(state.triggers.indexOf(trigger), 1),
        );
      },
    ],
    [
      'GET',
      /^\/apigateways\/v1\/apigateways$/,
      'apiGateway.listApiGateways',
      false,
      (_m, q) =>
        page(
          'apiGateways',
          state.gateways
            .filter((g) => g.folderId === q.get('folderId'))
            .map((g) => ({
              id: g.id,
              name: g.name,
              folderId: g.folderId,
              labels: g.labels,
              domain: g.domain,
            })),
        ),
    ],
    [
      'POST',
      /^\/apigateways\/v1\/apigateways$/,
      'apiGateway.createApiGateway',
      true,
      (_m, _q, body) => {
        const id = newId('gw');
        const gateway: Gateway = {
          id,
          name: String(body.name),
          folderId: String(body.folderId),
          labels: (body.labels ?? {}) as Record<string, string>,
          spec: String(body.openapiSpec),
          domain: `${id}.apigw.yandexcloud.net`,
        };
        return operation(
          'apiGateway.createApiGateway',
          { id, name: gateway.name, domain: gateway.domain },
          () => state.gateways.push(gateway),
        );
      },
    ],
    [
      'PATCH',
      /^\/apigateways\/v1\/apigateways\/([^/:]+)$/,
      'apiGateway.updateApiGateway',
      true,
      (m, _q, body) => {
        const gateway = byId(state.gateways, m[1] ?? '', 'api gateway');
        return operation('apiGateway.updateApiGateway', {}, () => {
          gateway.spec = String(body.openapiSpec);
          gateway.labels = (body.labels ?? {}) as Record<string, string>;
        });
      },
    ],
    [
      'DELETE',
      /^\/apigateways\/v1\/apigateways\/([^/:]+)$/,
      'apiGateway.deleteApiGateway',
      true,
      (m) => {
        const gateway = byId(state.gateways, m[1] ?? '', 'api gateway');
        return operation('apiGateway.deleteApiGateway', {}, () =>
          state.gateways.splice(state.gateways.indexOf(gateway), 1),
        );
      },
    ],
    [
      'GET',
      /^\/monitoring\/v3\/dashboards$/,
      'monitoring.listDashboards',
      false,
      (_m, q) => {
        const name = /^name="(.+)"$/.exec(q.get('filter') ?? '')?.[1];
        return page(
          'dashboards',
          state.dashboards
            .filter((d) => d.folderId === q.get('folderId') && (name === undefined || d.name === name))
            .map((d) => ({ ...d.body, id: d.id, folderId: d.folderId, etag: d.etag, labels: d.labels })),
        );
      },
    ],
    [
      'POST',
      /^\/monitoring\/v3\/dashboards$/,
      'monitoring.createDashboard',
      true,
      (_m, _q, body) => {
        if (typeof body.folderId !== 'string' || !Array.isArray(body.widgets))
          throw new HttpError(400, 3, 'folderId and widgets are required');
        if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(String(body.name)))
          throw new HttpError(400, 3, 'name is not valid');
        if (state.dashboards.some((d) => d.folderId === body.folderId && d.name === body.name))
          throw new HttpError(409, 6, 'dashboard already exists');
        checkLabels(body.labels);
        const dashboard: Dashboard = {
          id: newId('dash'),
          folderId: body.folderId,
          name: String(body.name),
          etag: '1',
          labels: (body.labels ?? {}) as Record<string, string>,
          body: { ...body },
        };
        return operation('monitoring.createDashboard', { ...body, id: dashboard.id }, () =>
          state.dashboards.push(dashboard),
        );
      },
    ],
    [
      'PATCH',
      /^\/monitoring\/v3\/dashboards\/([^/:]+)$/,
      'monitoring.updateDashboard',
      true,
      (m, _q, body) => {
        const dashboard = byId(state.dashboards, m[1] ?? '', 'dashboard');
        if (body.etag !== dashboard.etag)
          throw new HttpError(409, 10, `etag ${String(body.etag)} is out of date`);
        checkLabels(body.labels);
        return operation('monitoring.updateDashboard', { ...body, id: dashboard.id }, () => {
          dashboard.body = { ...body, folderId: dashboard.folderId };
          dashboard.labels = (body.labels ?? {}) as Record<string, string>;
          dashboard.etag = String(Number(dashboard.etag) + 1);
        });
      },
    ],
    [
      'GET',
      /^\/monitoring\/v3\/alerts$/,
      'monitoring.listAlerts',
      false,
      (_m, q) => {
        const name = /^name="(.+)"$/.exec(q.get('filter') ?? '')?.[1];
        return page(
          'alerts',
          state.alerts
            .filter((a) => a.folderId === q.get('folderId') && (name === undefined || a.name === name))
            .map((a) => ({ ...a.body, id: a.id })),
        );
      },
    ],
    [
      'POST',
      /^\/monitoring\/v3\/alerts$/,
      'monitoring.createAlert',
      true,
      (_m, _q, body) => {
        const channels = (body.channels ?? []) as { channelId?: string }[];
        if (typeof body.folderId !== 'string' || body.threshold === undefined || channels.length === 0)
          throw new HttpError(400, 3, 'folderId, threshold and channels are required');
        const alert: Alert = { id: newId('alert'), folderId: body.folderId, name: String(body.name), body };
        return operation('monitoring.createAlert', { ...body, id: alert.id }, () => state.alerts.push(alert));
      },
    ],
    [
      'GET',
      /^\/container-registry\/v1\/registries$/,
      'containerRegistry.listRegistries',
      false,
      () => page('registries', []),
    ],
    [
      'GET',
      /^\/operations\/([^/:]+)$/,
      'operation.get',
      false,
      (m) => {
        const op = state.operations.get(m[1] ?? '') ?? notFound('operation');
        if (!op.done) {
          op.done = true;
          op.onDone?.();
        }
        return op;
      },
    ],
  ];

  const docapi = (dbId: string, action: string, body: Record<string, unknown>): [number, unknown] => {
    const db = state.databases.find((d) => d.id === dbId);
    if (db === undefined)
      return [
        400,
        { __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException', message: 'no database' },
      ];
    const table = String(body.TableName);
    const missing: [number, unknown] = [
      400,
      {
        __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException',
        message: `table ${table} not found`,
      },
    ];
    switch (action) {
      case 'DescribeTable': {
        const t = db.tables[table];
        if (t === undefined) return missing;
        const view = {
          TableName: table,
          TableStatus: t.status,
          GlobalSecondaryIndexes: t.indexes.map((IndexName) => ({ IndexName, IndexStatus: 'ACTIVE' })),
        };
        if (t.status === 'CREATING') t.status = 'ACTIVE';
        return [200, { Table: view }];
      }
      case 'CreateTable': {
        if (db.tables[table] !== undefined)
          return [
            400,
            { __type: 'com.amazonaws.dynamodb.v20120810#ResourceInUseException', message: 'exists' },
          ];
        const indexes = ((body.GlobalSecondaryIndexes ?? []) as { IndexName: string }[]).map(
          (i) => i.IndexName,
        );
        db.tables[table] = { status: 'CREATING', indexes };
        return [200, { TableDescription: { TableName: table, TableStatus: 'CREATING' } }];
      }
      case 'GetItem':
        return db.tables[table] === undefined ? missing : [200, {}];
      case 'DeleteTable':
        delete db.tables[table];
        return [200, {}];
      default:
        return [
          400,
          { __type: 'com.amazonaws.dynamodb.v20120810#UnknownOperationException', message: action },
        ];
    }
  };

  const ymq = (params: URLSearchParams, authorization: string): [number, string] => {
    const keyId = /Credential=([^/]+)\//.exec(authorization)?.[1];
    const key = state.accessKeys.find((k) => k.keyId === keyId);
    const error = (status: number, code: string, message: string): [number, string] => [
      status,
      `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
    ];
    if (key === undefined) return error(403, 'InvalidClientTokenId', 'unknown access key');
    const admin = state.folderBindings.some(
      (b) => b.subject.id === key.serviceAccountId && b.roleId === 'ymq.admin',
    );
    if (!admin) return error(403, 'AccessDeniedException', 'the key has no ymq.admin');
    const action = params.get('Action');
    const ok = (inner: string): [number, string] => [
      200,
      `<${action}Response><${action}Result>${inner}</${action}Result><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></${action}Response>`,
    ];
    const attributes = (): Record<string, string> => {
      const out: Record<string, string> = {};
      for (let i = 1; params.has(`Attribute.${i}.Name`); i += 1)
        out[params.get(`Attribute.${i}.Name`) ?? ''] = params.get(`Attribute.${i}.Value`) ?? '';
      return out;
    };
    const queueByUrl = () => state.queues.find((q) => q.url === params.get('QueueUrl'));
    switch (action) {
      case 'GetQueueUrl': {
        const queue = state.queues.find(
          (q) => q.name === params.get('QueueName') && q.folderId === options.folderId,
        );
        return queue === undefined
          ? error(400, 'AWS.SimpleQueueService.NonExistentQueue', 'no such queue')
          : ok(`<QueueUrl>${queue.url}</QueueUrl>`);
      }
      case 'CreateQueue': {
        const name = params.get('QueueName') ?? '';
        if (state.queues.some((q) => q.name === name)) return error(400, 'QueueAlreadyExists', 'exists');
        const url = `${base}/${options.folderId}/${newId('queue')}/${name}`;
        state.queues.push({
          url,
          name,
          folderId: options.folderId,
          attributes: {
            VisibilityTimeout: '30',
            MessageRetentionPeriod: '345600',
            ...attributes(),
            QueueArn: `yrn:yc:ymq:ru-central1:${options.folderId}:${name}`,
          },
        });
        return ok(`<QueueUrl>${url}</QueueUrl>`);
      }
      case 'GetQueueAttributes': {
        const queue = queueByUrl();
        if (queue === undefined)
          return error(400, 'AWS.SimpleQueueService.NonExistentQueue', 'no such queue');
        return ok(
          Object.entries(queue.attributes)
            .map(
              ([n, v]) =>
                `<Attribute><Name>${n}</Name><Value>${v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;')}</Value></Attribute>`,
            )
            .join(''),
        );
      }
      case 'SetQueueAttributes': {
        const queue = queueByUrl();
        if (queue === undefined)
          return error(400, 'AWS.SimpleQueueService.NonExistentQueue', 'no such queue');
        Object.assign(queue.attributes, attributes());
        return ok('');
      }
      case 'DeleteQueue': {
        const queue = queueByUrl();
        if (queue === undefined)
          return error(400, 'AWS.SimpleQueueService.NonExistentQueue', 'no such queue');
        state.queues.splice(state.queues.indexOf(queue), 1);
        return ok('');
      }
      default:
        return error(400, 'InvalidAction', String(action));
    }
  };

  const invocations: GatewayInvocation[] = [];
  const RUNNER = [
    'const m = require(process.argv[1]);',
    "let input = ''; process.stdin.on('data', (c) => { input += c; });",
    "process.stdin.on('end', async () => {",
    '  const { event, context } = JSON.parse(input); const started = Date.now();',
    '  const ctx = { ...context, getRemainingTimeInMillis: () => Math.max(0, context.timeoutMs - (Date.now() - started)), getPayload: () => event };',
    '  let answer;',
    '  try { answer = { ok: true, result: (await m.handler(event, ctx)) ?? null }; }',
    '  catch (e) { answer = { ok: false, message: String((e && e.message) || e) }; }',
    "  process.stdout.write('\\n@@result ' + JSON.stringify(answer) + '\\n', () => process.exit(0));",
    '});',
  ].join('\n');

  /** Runs `version`'s code once with `event`, as the platform would (a fresh instance each time). */
  const runVersion = (
    version: Version,
    event: unknown,
  ): Promise<{ ok: boolean; result?: unknown; message?: string }> => {
    const dir = join(codeDir, version.id);
    mkdirSync(dir, { recursive: true });
    const files = unzipSync(new Uint8Array(version.code ?? Buffer.alloc(0)));
    const index = files['index.js'];
    if (index === undefined) return Promise.resolve({ ok: false, message: 'the version has no index.js' });
    writeFileSync(join(dir, 'index.js'), index);
    const environment: Record<string, string> = {
      ...((version.body.environment ?? {}) as Record<string, string>),
      _HANDLER: String(version.body.entrypoint ?? 'index.handler'),
    };
    for (const ref of (version.body.secrets ?? []) as {
      id: string;
      versionId: string;
      key: string;
      environmentVariable: string;
    }[]) {
      const value = state.secrets.find((x) => x.id === ref.id)?.versions.find((v) => v.id === ref.versionId)
        ?.entries[ref.key];
      if (value === undefined)
        return Promise.resolve({ ok: false, message: `secret ${ref.id}/${ref.key} cannot be read` });
      environment[ref.environmentVariable] = value;
    }
    const account = String(version.body.serviceAccountId ?? '');
    const timeoutMs = 1000 * Number(String(version.body.executionTimeout ?? '30s').replace(/s$/, ''));
    const context = {
      functionName: version.functionId,
      functionVersion: version.id,
      memoryLimitInMB: '128',
      requestId: randomBytes(8).toString('hex'),
      timeoutMs,
      ...(account === ''
        ? {}
        : { token: { access_token: functionToken(account), expires_in: 43200, token_type: 'Bearer' } }),
    };
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['-e', RUNNER, join(dir, 'index.js')], { env: environment });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
      });
      child.stderr.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), Math.min(timeoutMs, 30_000));
      child.stdin.end(JSON.stringify({ event, context }));
      child.on('close', () => {
        clearTimeout(timer);
        const line = out.split('\n').find((l) => l.startsWith('@@result '));
        resolve(
          line === undefined
            ? { ok: false, message: `no answer: ${out.slice(-500)}` }
            : JSON.parse(line.slice(9)),
        );
      });
    });
  };

  /** A gateway answering at `/_apigw/<domain>/<path>` through the function its spec names. */
  const invokeGateway = async (
    req: IncomingMessage,
    raw: Buffer,
    domain: string,
    requestPath: string,
    search: string,
  ): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> => {
    const text = (status: number, message: string) => ({
      status,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ message })),
    });
    const gateway = state.gateways.find((g) => g.domain === domain);
    if (gateway === undefined) return text(404, 'no such gateway');
    const spec = parseYaml(gateway.spec) as {
      paths?: Record<string, Record<string, Record<string, unknown>>>;
    };
    const method = (req.method ?? 'GET').toLowerCase();
    for (const [template, item] of Object.entries(spec.paths ?? {})) {
      const names: string[] = [];
      const pattern = new RegExp(
        `^${template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
          names.push(name);
          return '([^/]+)';
        })}$`,
      );
      const match = pattern.exec(requestPath);
      if (match === null) continue;
      const operation = item[method];
      if (operation === undefined) return text(405, 'method not allowed');
      const integration = operation['x-yc-apigateway-integration'] as Record<string, unknown>;
      const fn = state.functions.find((f) => f.id === integration.function_id);
      if (fn === undefined) return text(500, 'the integration names no function');
      const invoker = String(integration.service_account_id);
      if (!fn.bindings.some((b) => b.roleId === 'serverless.functions.invoker' && b.subject.id === invoker))
        return text(500, 'the integration account may not invoke the function');
      const tag = String(integration.tag ?? '$latest');
      const version = state.versions.find((v) => v.functionId === fn.id && v.tags.includes(tag));
      if (version === undefined) return text(500, 'the function has no such version');
      const pathParameters = Object.fromEntries(
        names.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? '')]),
      );
      const event = httpEvent({
        method: method.toUpperCase(),
        headers: req.headers,
        url: `${requestPath}${search}`,
        body: raw,
        pathParameters,
        gateway: {
          specPath: template,
          operationContext: (integration.context ?? {}) as Record<string, unknown>,
        },
      });
      const answer = await runVersion(version, event);
      const result = answer.result as
        | { statusCode?: number; headers?: Record<string, string>; body?: string; isBase64Encoded?: boolean }
        | undefined;
      if (!answer.ok || typeof result?.statusCode !== 'number')
        return text(502, `function failed: ${answer.message ?? 'not an HTTP answer'}`);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(result.headers ?? {}))
        headers[name.toLowerCase()] = String(value);
      const body = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8');
      invocations.push({
        method: method.toUpperCase(),
        path: requestPath,
        functionId: fn.id,
        status: result.statusCode,
        body: body.toString('utf8'),
      });
      return { status: result.statusCode, headers, body };
    }
    return text(404, 'no such route');
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', base);
      const path = decodeURIComponent(url.pathname);
      const method = req.method ?? 'GET';
      const record = (label: string, mutating: boolean, body: unknown, status: number) =>
        calls.push({ label, method, path, mutating, body, status });
      const json = (status: number, payload: unknown, type = 'application/json') => {
        res.writeHead(status, { 'content-type': type });
        res.end(JSON.stringify(payload));
      };
      // Message Queue: POST / with a form body, signed with SigV4.
      if (method === 'POST' && path === '/') {
        const params = new URLSearchParams(raw);
        const action = params.get('Action') ?? '?';
        const [status, xml] = ymq(params, String(req.headers.authorization ?? ''));
        record(
          `ymq.${action}`,
          ['CreateQueue', 'SetQueueAttributes', 'DeleteQueue'].includes(action),
          Object.fromEntries(params),
          status,
        );
        res.writeHead(status, { 'content-type': 'text/xml' });
        res.end(xml);
        return;
      }
      const gatewayMatch = /^\/_apigw\/([^/]+)(\/.*)?$/.exec(url.pathname);
      if (gatewayMatch !== null) {
        const requestPath = decodeURIComponent(gatewayMatch[2] ?? '/');
        invokeGateway(req, Buffer.from(raw, 'utf8'), gatewayMatch[1] ?? '', requestPath, url.search).then(
          (answer) => {
            record('apiGateway.invoke', false, { path: requestPath }, answer.status);
            res.writeHead(answer.status, answer.headers);
            res.end(answer.body);
          },
          (error: unknown) => {
            record('apiGateway.invoke', false, { path: requestPath }, 500);
            json(500, { message: error instanceof Error ? error.message : String(error) });
          },
        );
        return;
      }
      const asFunction =
        /^\/docapi\//.test(path) &&
        state.serviceAccounts.some((sa) => req.headers.authorization === `Bearer ${functionToken(sa.id)}`);
      if (req.headers.authorization !== `Bearer ${options.token}` && !asFunction) {
        record('unauthenticated', false, undefined, 401);
        json(401, { code: 16, message: 'The token is invalid' });
        return;
      }
      const docapiMatch = /^\/docapi\/ru-central1\/[^/]+\/([^/]+)$/.exec(path);
      if (method === 'POST' && docapiMatch !== null) {
        const action = String(req.headers['x-amz-target'] ?? '').replace(/^DynamoDB_20120810\./, '');
        const body = raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>);
        const [status, payload] = docapi(docapiMatch[1] ?? '', action, body);
        record(
          `docapi.${action}`,
          ['CreateTable', 'DeleteTable', 'PutItem', 'UpdateItem', 'DeleteItem'].includes(action),
          body,
          status,
        );
        json(status, payload, 'application/x-amz-json-1.0');
        return;
      }
      const route = routes.find(([m, pattern]) => m === method && pattern.test(path));
      if (route === undefined) {
        record(`unknown ${method} ${path}`, method !== 'GET', raw, 404);
        json(404, { code: 12, message: `no route ${method} ${path}` });
        return;
      }
      const [, pattern, label, mutating, handler] = route;
      let body: Record<string, unknown> = {};
      try {
        body = raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>);
        const failure = takeFailure(label);
        if (failure !== undefined && 'status' in failure)
          throw new HttpError(failure.status, failure.code, failure.message);
        if (failure !== undefined && 'operationError' in failure) nextOperationError = failure.operationError;
        const answer = handler(pattern.exec(path) as RegExpExecArray, url.searchParams, body);
        record(label, mutating, body, 200);
        json(200, answer);
      } catch (error) {
        const status = error instanceof HttpError ? error.status : 500;
        record(label, mutating, body, status);
        json(status, {
          code: error instanceof HttpError ? error.code : 13,
          message: error instanceof Error ? error.message : String(error),
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    calls,
    invocations,
    state,
    failNext(label, failure, times = 1) {
      const list = failures.get(label) ?? [];
      for (let i = 0; i < times; i += 1) list.push(failure);
      failures.set(label, list);
    },
    setDeployerIsProjectAdmin(value) {
      deployerIsProjectAdmin = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          rmSync(codeDir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}
