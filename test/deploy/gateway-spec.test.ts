import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { type GatewayIds, gatewaySecurityProblems, renderGatewaySpec } from '../../deploy/gateway-spec.ts';
import {
  RUN_ACTIONS,
  RUN_STATUSES,
  type RunEvent,
  type RunRecord,
  TRIGGER_KINDS,
} from '../../shared/core/run-record.ts';
import { ERROR_CODES } from '../../shared/errors.ts';
import { toPublicRun } from '../../shared/notify/public-run.ts';
import { resolveRef, type Schema, validate } from './mini-schema.ts';

const root = join(import.meta.dirname, '..', '..');
const specText = readFileSync(join(root, 'api-gateway', 'openapi.yaml'), 'utf8');
const spec = parse(specText) as Record<string, unknown>;
const schemas = (spec.components as { schemas: Record<string, Schema> }).schemas;
const paths = spec.paths as Record<string, Record<string, Record<string, unknown>>>;

const IDS: GatewayIds = {
  executeFunctionId: 'd4efakeexecute000001',
  checkFunctionId: 'd4efakecheck00000002',
  cancelFunctionId: 'd4efakecancel0000003',
  invokerServiceAccountId: 'ajefakeinvoker000002',
};

/** The run request fields of design.md §4. */
const RUN_REQUEST_FIELDS = [
  'action',
  'projectId',
  'notebookId',
  'inputVariables',
  'outputVariableNames',
  'spec',
  'sparkConnectorId',
  'dockerId',
  'timeoutSeconds',
  'concurrency',
  'idempotencyKey',
];
/** The run record fields of design.md §5. */
const RUN_RECORD_FIELDS = [
  'runId',
  'operationId',
  'projectId',
  'notebookId',
  'status',
  'executionStatus',
  'error',
  'createdAt',
  'updatedAt',
  'finishedAt',
  'deadline',
  'trigger',
  'action',
  'result',
  'attempt',
  'attempts',
  'job',
  'events',
];

/** The query parameters of the run history (design.md §6), in the spec's order. */
const LIST_PARAMETERS = [
  'limit',
  'cursor',
  'status',
  'projectId',
  'notebookId',
  'job',
  'trigger',
  'action',
  'since',
  'until',
];

/** The gateway variable reference `$ {var.<name>}` (no space), written without a template-looking literal. */
const v = (name: string): string => ['$', '{var.', name, '}'].join('');

const runRequest = (value: unknown): string[] => validate(value, schemas.RunRequest ?? {}, spec);

describe('the API Gateway specification', () => {
  it('is OpenAPI 3.0 with the web console and the three run operations and their methods', () => {
    assert.match(String(spec.openapi), /^3\.0\./);
    assert.deepEqual(Object.keys(paths).sort(), ['/', '/runs', '/runs/{runId}', '/runs/{runId}/cancel']);
    assert.deepEqual(Object.keys(paths['/'] ?? {}), ['get']);
    assert.deepEqual(Object.keys(paths['/runs'] ?? {}).sort(), ['get', 'post']);
    assert.deepEqual(Object.keys(paths['/runs/{runId}'] ?? {}), ['get']);
    assert.deepEqual(Object.keys(paths['/runs/{runId}/cancel'] ?? {}), ['post']);
  });

  it('routes every operation to the right function through the invoker account, payload format 0.1', () => {
    const routes: Record<string, string> = {
      'GET /': v('checkFunctionId'),
      'POST /runs': v('executeFunctionId'),
      'GET /runs': v('checkFunctionId'),
      'GET /runs/{runId}': v('checkFunctionId'),
      'POST /runs/{runId}/cancel': v('cancelFunctionId'),
    };
    for (const [route, functionId] of Object.entries(routes)) {
      const [method = '', path = ''] = route.split(' ');
      const operation = paths[path]?.[method.toLowerCase()];
      const integration = operation?.['x-yc-apigateway-integration'];
      assert.deepEqual(
        integration,
        {
          type: 'cloud_functions',
          function_id: functionId,
          tag: '$latest',
          service_account_id: v('invokerServiceAccountId'),
          payload_format_version: '0.1',
          // Marks the call as the gateway's for the functions (docs/auth.md).
          context: { api: 'datasphere-runner', operation: operation?.operationId },
        },
        route,
      );
    }
  });

  it('declares the answers the product gives: 202/400/403/409/502/503 for a start, 404 for an unknown run', () => {
    const codes = (path: string, method: string): string[] =>
      Object.keys((paths[path]?.[method]?.responses ?? {}) as object).sort();
    assert.deepEqual(codes('/runs', 'post'), ['202', '400', '401', '403', '409', '502', '503']);
    assert.ok(codes('/runs/{runId}', 'get').includes('200') && codes('/runs/{runId}', 'get').includes('404'));
    assert.ok(codes('/runs/{runId}/cancel', 'post').includes('404'));
    const header = ((paths['/runs']?.post?.parameters ?? []) as { $ref?: string }[])[0];
    assert.equal(resolveRef(spec, header?.$ref ?? '').name, 'Idempotency-Key');
    assert.equal(resolveRef(spec, header?.$ref ?? '').required, false);
  });

  it('serves the web console at GET / as an HTML page from the check function, with no parameters', () => {
    const get = paths['/']?.get ?? {};
    assert.equal(get.operationId, 'webConsole');
    assert.equal(get.parameters, undefined);
    const responses = (get.responses ?? {}) as Record<string, { content?: Record<string, unknown> }>;
    assert.deepEqual(Object.keys(responses).sort(), ['200', '304']);
    assert.deepEqual(Object.keys(responses['200']?.content ?? {}), ['text/html']);
    // The check function tells this route from GET /runs by the event's `path`, which payload 0.1 sets
    // to the route's path: the two routes must stay on that format.
    const integration = get['x-yc-apigateway-integration'] as Record<string, unknown>;
    assert.equal(integration.payload_format_version, '0.1');
  });

  it('lists runs at GET /runs with the query parameters of design.md §6 (and operationId)', () => {
    const get = paths['/runs']?.get ?? {};
    assert.equal(get.operationId, 'listRuns');
    const parameters = (get.parameters ?? []) as {
      name: string;
      in: string;
      required: boolean;
      schema: Schema;
    }[];
    assert.deepEqual(
      parameters.map((p) => p.name),
      [...LIST_PARAMETERS, 'operationId'],
    );
    for (const p of parameters) {
      assert.equal(p.in, 'query', p.name);
      assert.equal(p.required, false, p.name);
    }
    const limit = parameters.find((p) => p.name === 'limit')?.schema ?? {};
    assert.deepEqual([limit.minimum, limit.maximum, limit.default], [1, 100, 20]);
    assert.deepEqual(parameters.find((p) => p.name === 'trigger')?.schema.enum, [...TRIGGER_KINDS]);
    assert.deepEqual(parameters.find((p) => p.name === 'action')?.schema.enum, [...RUN_ACTIONS]);
    const codes = Object.keys((get.responses ?? {}) as object).sort();
    assert.deepEqual(codes, ['200', '400', '401', '403', '404', '502', '503']);
  });

  it('describes a page of the history: runs and a nullable nextCursor; a run record still fits', () => {
    const ok = (((paths['/runs']?.get?.responses ?? {}) as Record<string, Schema>)['200'] ?? {}) as {
      content?: { 'application/json'?: { schema?: Schema } };
    };
    const schema = ok.content?.['application/json']?.schema ?? {};
    const run = {
      runId: '6f1c1a52-8d3c-5e1b-9a7e-0c2d4b6a8f10',
      projectId: 'bt1fakeproject000000',
      status: 'SUCCEEDED',
      createdAt: '2025-06-01T12:00:00.000Z',
      updatedAt: '2025-06-01T12:10:00.000Z',
      deadline: '2025-06-02T12:00:00.000Z',
      trigger: 'schedule',
    };
    assert.deepEqual(validate({ runs: [run, run], nextCursor: 'WzEsMV0' }, schema, spec), []);
    assert.deepEqual(validate({ runs: [], nextCursor: null }, schema, spec), []);
    assert.deepEqual(validate(run, schema, spec), []);
    assert.equal(validate({ runs: [{ runId: 'r1' }], nextCursor: null }, schema, spec).length, 1);
    assert.ok(validate({ runs: [] }, schemas.RunList ?? {}, spec).includes('$.nextCursor: required'));
  });

  it('describes the error body with every wrong field in errors[]', () => {
    const body = {
      error: {
        code: 'INVALID_REQUEST',
        message: 'limit: must be a whole number from 1 to 100',
        field: 'limit',
        errors: [
          { field: 'limit', message: 'limit: must be a whole number from 1 to 100' },
          { field: 'status', message: 'status: "DONE" is not a run status' },
        ],
      },
    };
    assert.deepEqual(validate(body, schemas.Error ?? {}, spec), []);
  });

  it('describes exactly the run request fields of design.md, and nothing else', () => {
    assert.deepEqual(
      Object.keys((schemas.RunRequest?.properties ?? {}) as object).sort(),
      [...RUN_REQUEST_FIELDS].sort(),
    );
    // notebookId is required for execute only (the functions check it; the action decides).
    assert.deepEqual(schemas.RunRequest?.required, ['projectId']);
    assert.deepEqual(((schemas.RunRequest?.properties ?? {}) as Record<string, Schema>).action?.enum, [
      ...RUN_ACTIONS,
    ]);
    assert.equal(schemas.RunRequest?.additionalProperties, false);
  });

  it('accepts a full run request and rejects an unknown field, naming it', () => {
    assert.deepEqual(
      runRequest({
        projectId: 'bt1fakeproject000000',
        notebookId: 'notebooks/train.ipynb',
        inputVariables: { EPOCHS: 3, MODE: 'fast', DRY: false },
        outputVariableNames: ['score'],
        spec: 'c1.4',
        sparkConnectorId: 'sc1',
        dockerId: 'dock1',
        timeoutSeconds: 3600,
        concurrency: 'skip',
        idempotencyKey: 'k-1',
      }),
      [],
    );
    assert.deepEqual(runRequest({ projectId: 'p1', notebookId: 'nb.ipynb', notebook: 'typo' }), [
      '$.notebook: unknown field',
    ]);
  });

  it('rejects the values design.md rules out', () => {
    assert.deepEqual(runRequest({ notebookId: 'nb' }), ['$.projectId: required']);
    assert.deepEqual(runRequest({ projectId: 'p'.repeat(51), notebookId: 'nb' }), ['$.projectId: too long']);
    assert.deepEqual(runRequest({ projectId: 'p', notebookId: 'nb', timeoutSeconds: 604801 }), [
      '$.timeoutSeconds: above maximum',
    ]);
    assert.deepEqual(runRequest({ projectId: 'p', notebookId: 'nb', timeoutSeconds: 1.5 }), [
      '$.timeoutSeconds: expected integer, got 1.5',
    ]);
    assert.equal(runRequest({ projectId: 'p', notebookId: 'nb', concurrency: 'queue' }).length, 1);
    assert.equal(
      runRequest({ projectId: 'p', notebookId: 'nb', inputVariables: { A: { nested: 1 } } }).length,
      1,
    );
    assert.equal(runRequest({ projectId: 'p', notebookId: 'nb', dockerId: 'd'.repeat(51) }).length, 1);
  });

  it('mentions every run record field, with the statuses and trigger kinds the ledger uses', () => {
    const properties = (schemas.RunRecord?.properties ?? {}) as Record<string, Schema>;
    const missing = RUN_RECORD_FIELDS.filter((field) => !(field in properties));
    assert.deepEqual(missing, []);
    assert.deepEqual(properties.status?.enum, [...RUN_STATUSES]);
    assert.deepEqual(properties.trigger?.enum, [...TRIGGER_KINDS]);
    assert.deepEqual(properties.action?.enum, [...RUN_ACTIONS]);
  });

  it('describes every field of the public run record (toPublicRun) and every timeline entry type', () => {
    const properties = (schemas.RunRecord?.properties ?? {}) as Record<string, Schema>;
    const record: RunRecord = {
      runId: 'r1',
      dedupeKey: 'key:k',
      requestHash: 'h',
      request: { projectId: 'p1', notebookId: 'nb' },
      trigger: 'http',
      projectId: 'p1',
      status: 'SUCCEEDED',
      createdAt: '2025-06-01T12:00:00.000Z',
      updatedAt: '2025-06-01T12:00:00.000Z',
      deadline: '2025-06-02T12:00:00.000Z',
      checks: 0,
      version: 1,
    };
    const full = toPublicRun({
      ...record,
      operationId: 'op',
      notebookId: 'nb',
      executionStatus: 'OK',
      error: { code: 1, message: 'x' },
      startedAt: record.createdAt,
      finishedAt: record.createdAt,
      result: { projectUrl: 'u' },
      job: { name: 'j', slot: record.createdAt },
      attempt: 2,
      attempts: ['r0'],
      retriedBy: 'r2',
      upstream: { runId: 'u', job: 'j', status: 'SUCCEEDED' },
      replacedBy: 'r3',
      cancelRequestedAt: record.createdAt,
      cancelReason: 'user',
      events: [{ at: record.createdAt, type: 'claimed' }],
    });
    assert.deepEqual(
      Object.keys(full).filter((field) => !(field in properties)),
      [],
    );
    // A pending retry: `retryAt` instead of `retriedBy`.
    const pending = toPublicRun({ ...record, status: 'FAILED', attempt: 1, retryAt: record.updatedAt });
    assert.equal(pending.retryAt, record.updatedAt);
    assert.deepEqual(
      Object.keys(pending).filter((field) => !(field in properties)),
      [],
    );
    const eventTypes = resolveRef(spec, '#/components/schemas/RunEvent/properties/type').enum;
    const types: RunEvent['type'][] = [
      'claimed',
      'queued',
      'started',
      'cancel-requested',
      'finished',
      'reported',
      'retry-scheduled',
      'start-recovered',
    ];
    assert.deepEqual(eventTypes, types);
  });

  it('validates a real-shaped open run record with its result and timeline', () => {
    const record = {
      runId: '6f1c1a52-8d3c-5e1b-9a7e-0c2d4b6a8f10',
      operationId: 'bt1fakeoperation0000',
      projectId: 'bt1fakeproject000000',
      status: 'SUCCEEDED',
      createdAt: '2025-06-01T12:00:00.000Z',
      updatedAt: '2025-06-01T12:01:00.000Z',
      startedAt: '2025-06-01T12:00:00.200Z',
      finishedAt: '2025-06-01T12:01:00.000Z',
      deadline: '2025-06-02T12:00:00.000Z',
      trigger: 'schedule',
      action: 'open',
      result: { projectUrl: 'https://datasphere.yandex.cloud/communities/c1/projects/p1' },
      job: { name: 'morning-open', slot: '2025-06-01T12:00:00.000Z' },
      checks: 3,
      events: [
        { at: '2025-06-01T12:00:00.000Z', type: 'claimed' },
        { at: '2025-06-01T12:00:00.200Z', type: 'started', detail: 'bt1fakeoperation0000' },
        { at: '2025-06-01T12:01:00.000Z', type: 'finished', detail: 'SUCCEEDED' },
      ],
    };
    assert.deepEqual(validate(record, schemas.RunRecord ?? {}, spec), []);
    assert.equal(
      validate(
        { ...record, events: [{ at: record.createdAt, type: 'lunch' }] },
        schemas.RunRecord ?? {},
        spec,
      ).length,
      1,
    );
    assert.deepEqual(runRequest({ action: 'open', projectId: 'p1', timeoutSeconds: 1800 }), []);
    assert.deepEqual(runRequest({ action: 'activate', projectId: 'p1', dockerId: 'd1' }), []);
  });

  it('describes the error body {"error": {"code", "message"}} with every stable error code', () => {
    const body = { error: { code: 'RUN_NOT_FOUND', message: 'no run r1' } };
    assert.deepEqual(validate(body, schemas.Error ?? {}, spec), []);
    assert.equal(validate({ error: { code: 'NOPE', message: 'x' } }, schemas.Error ?? {}, spec).length, 1);
    const errorSchema = resolveRef(spec, '#/components/schemas/Error/properties/error/properties/code');
    const codes = errorSchema.enum;
    assert.deepEqual(codes, [...ERROR_CODES]);
    const conflict = { error: { code: 'RUN_ALREADY_RUNNING', message: 'running' }, run: { runId: 'r1' } };
    assert.ok(validate(conflict, schemas.ConflictError ?? {}, spec).some((p) => p.startsWith('$.run.')));
  });

  it('validates a real-shaped run record', () => {
    const record = {
      runId: '6f1c1a52-8d3c-5e1b-9a7e-0c2d4b6a8f10',
      operationId: 'bt1fakeoperation0000',
      projectId: 'bt1fakeproject000000',
      notebookId: 'nb.ipynb',
      status: 'FAILED',
      executionStatus: 'ERROR',
      error: { code: 13, message: 'kernel died' },
      createdAt: '2025-06-01T12:00:00.000Z',
      updatedAt: '2025-06-01T12:10:00.000Z',
      finishedAt: '2025-06-01T12:10:00.000Z',
      deadline: '2025-06-02T12:00:00.000Z',
      trigger: 'queue',
    };
    assert.deepEqual(validate(record, schemas.RunRecord ?? {}, spec), []);
  });
});

describe('rendering the gateway specification', () => {
  it('fills in every function id and the invoker account, leaving no variable behind', () => {
    const rendered = renderGatewaySpec(specText, IDS);
    assert.doesNotMatch(rendered, /\$\{var\./);
    const doc = parse(rendered) as typeof spec;
    const integration = (path: string, method: string): Record<string, unknown> =>
      (doc.paths as typeof paths)[path]?.[method]?.['x-yc-apigateway-integration'] as Record<string, unknown>;
    assert.equal(integration('/', 'get').function_id, IDS.checkFunctionId);
    assert.equal(integration('/runs', 'post').function_id, IDS.executeFunctionId);
    assert.equal(integration('/runs/{runId}', 'get').function_id, IDS.checkFunctionId);
    assert.equal(integration('/runs', 'get').function_id, IDS.checkFunctionId);
    assert.equal(integration('/runs/{runId}/cancel', 'post').function_id, IDS.cancelFunctionId);
    assert.equal(integration('/runs', 'post').service_account_id, IDS.invokerServiceAccountId);
    const variables = (doc['x-yc-apigateway'] as { variables: Record<string, { default: string }> })
      .variables;
    assert.equal(variables.executeFunctionId?.default, IDS.executeFunctionId);
    assert.equal(variables.invokerServiceAccountId?.default, IDS.invokerServiceAccountId);
  });

  it('refuses a malformed id and a variable without a value', () => {
    assert.throws(
      () => renderGatewaySpec(specText, { ...IDS, checkFunctionId: 'REPLACE ME' }),
      /checkFunctionId/,
    );
    assert.throws(
      () => renderGatewaySpec(`${specText}\nx-extra: \${var.unknownThing}\n`, IDS),
      /\$\{var\.unknownThing\}, which has no value/,
    );
  });
});

describe('the deploy’s check that every route but GET / requires credentials', () => {
  /** The spec with `edit` applied to its parsed form. */
  // biome-ignore lint/suspicious/noExplicitAny: a parsed spec edited in place.
  const edited = (edit: (doc: Record<string, any>) => void): string => {
    // biome-ignore lint/suspicious/noExplicitAny: as above.
    const doc = parse(specText) as Record<string, any>;
    edit(doc);
    return stringify(doc);
  };

  it('finds nothing open in api-gateway/openapi.yaml, rendered or not', () => {
    assert.deepEqual(gatewaySecurityProblems(specText), []);
    assert.deepEqual(gatewaySecurityProblems(renderGatewaySpec(specText, IDS)), []);
    // What it relies on, said directly: the document's requirement is either credential.
    assert.deepEqual(spec.security, [{ iamToken: [] }, { apiKey: [] }]);
  });

  it('names every route left open, in every way OpenAPI can leave one open', () => {
    const problems = gatewaySecurityProblems(
      edited((doc) => {
        doc.security = undefined; // GET /runs/{runId} and POST /runs/{runId}/cancel fall back to nothing
        doc.paths['/runs'].post.security = [{ iamToken: [] }, {}];
        doc.paths['/runs'].get.security = [{ basicAuth: [] }];
        doc.paths['/'].get.security = [{ apiKey: [] }];
      }),
    );
    assert.deepEqual(problems, [
      'gateway spec GET /: should be public (security: []) but requires credentials',
      'gateway spec GET /runs: names the undeclared security scheme basicAuth',
      'gateway spec POST /runs: lists an empty security requirement (anyone may call)',
      'gateway spec GET /runs/{runId}: requires no credentials',
      'gateway spec POST /runs/{runId}/cancel: requires no credentials',
    ]);
  });
});
