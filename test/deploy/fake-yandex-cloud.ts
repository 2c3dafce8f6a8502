/**
 * A local fake of the Yandex Cloud REST APIs the deploy calls, on 127.0.0.1 (port 0), keeping state
 * in memory and recording every call: Resource Manager (folder, access bindings), IAM (service
 * accounts, static keys), Lockbox (secrets, versions, payload, access bindings), YDB (databases) and
 * its Document API (tables), DataSphere (project access bindings), Functions (functions, versions,
 * access bindings), Triggers, API Gateway, Operations, and Message Queue (SQS query protocol with
 * SigV4). Paths and bodies follow the google.api.http annotations of yandex-cloud/cloudapi and the
 * REST pages of yandex-cloud/docs; answers are the documented JSON (operations for mutating calls).
 *
 * Tests read `calls` (each with a `label` like `functions.createVersion` and whether it mutates),
 * inspect `state`, and inject failures with `failNext`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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
    operations: new Map(),
  };
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
      if (req.headers.authorization !== `Bearer ${options.token}`) {
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
        server.close(() => resolve());
      }),
  };
}
