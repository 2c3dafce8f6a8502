import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isProtoTimestamp, parseProtoTimestamp } from '../../shared/api/proto-timestamp.ts';
import {
  ANY_PAYLOADS,
  decodeOperation,
  decodeProject,
  EXECUTE_PAYLOADS,
  messageName,
  OPEN_PAYLOADS,
  openResultOf,
  ResponseShapeError,
} from '../../shared/api/protojson.ts';
import { isRunnerError } from '../../shared/errors.ts';
import { executeResponse, finishedOpen, runningExecute } from './mock-api.ts';

function shapeError(fn: () => unknown, field: string): true {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ResponseShapeError, String(error));
    assert.equal(error.code, 'API_BAD_RESPONSE');
    assert.equal(error.field, field);
    assert.ok(isRunnerError(error));
    return true;
  });
  return true;
}

describe('parseProtoTimestamp', () => {
  it('parses nine fractional digits and keeps millisecond precision by truncation', () => {
    assert.equal(
      parseProtoTimestamp('2025-06-02T06:00:03.481290117Z').toISOString(),
      '2025-06-02T06:00:03.481Z',
    );
    assert.equal(
      parseProtoTimestamp('2025-06-02T06:00:03.999999999Z').toISOString(),
      '2025-06-02T06:00:03.999Z',
    );
  });

  it('accepts zero, three and six fractional digits and a single digit', () => {
    assert.equal(parseProtoTimestamp('2025-06-02T06:00:03Z').toISOString(), '2025-06-02T06:00:03.000Z');
    assert.equal(parseProtoTimestamp('2025-06-02T06:00:03.120Z').toISOString(), '2025-06-02T06:00:03.120Z');
    assert.equal(
      parseProtoTimestamp('2025-06-02T06:00:03.123456Z').toISOString(),
      '2025-06-02T06:00:03.123Z',
    );
    assert.equal(parseProtoTimestamp('2025-06-02T06:00:03.5Z').toISOString(), '2025-06-02T06:00:03.500Z');
  });

  it('applies numeric offsets', () => {
    assert.equal(parseProtoTimestamp('2025-06-02T09:00:03+03:00').toISOString(), '2025-06-02T06:00:03.000Z');
    assert.equal(parseProtoTimestamp('2025-06-01T23:30:00-06:30').toISOString(), '2025-06-02T06:00:00.000Z');
  });

  it('handles leap days and years below 100 exactly', () => {
    assert.equal(parseProtoTimestamp('2024-02-29T00:00:00Z').toISOString(), '2024-02-29T00:00:00.000Z');
    assert.equal(parseProtoTimestamp('0050-01-01T00:00:00Z').getUTCFullYear(), 50);
  });

  it('rejects garbage, impossible dates, missing zones and too many digits', () => {
    for (const bad of [
      '',
      'yesterday',
      '2025-06-02',
      '2025-06-02T06:00:03',
      '2025-06-02 06:00:03Z',
      '2025-13-01T00:00:00Z',
      '2025-02-29T00:00:00Z',
      '2025-04-31T00:00:00Z',
      '2025-06-02T24:00:00Z',
      '2025-06-02T06:60:00Z',
      '2025-06-02T06:00:60Z',
      '2025-06-02T06:00:03.1234567890Z',
      '2025-06-02T06:00:03.Z',
      '2025-06-02T06:00:03+3:00',
      '0000-01-01T00:00:00Z',
    ]) {
      assert.equal(isProtoTimestamp(bad), false, bad);
      assert.throws(() => parseProtoTimestamp(bad), RangeError, bad);
    }
  });
});

describe('decodeOperation', () => {
  it('decodes the running Execute operation of the reference and types its metadata', () => {
    const op = decodeOperation(runningExecute('bt1ok3m9c5v2r7h0d4e6'), EXECUTE_PAYLOADS);
    assert.equal(op.id, 'bt1ok3m9c5v2r7h0d4e6');
    assert.equal(op.done, false);
    assert.equal(op.createdAt, '2025-06-02T06:00:03.481290117Z');
    assert.equal(op.metadata?.projectId, 'p1');
    assert.equal(op.metadata?.notebookId, '/home/jupyter/datasphere/project/daily_report.ipynb');
    assert.equal(op.response, undefined);
    assert.equal(op.error, undefined);
  });

  it('treats an absent done as false and null members as absent', () => {
    const op = decodeOperation({ id: 'op1', metadata: null, response: null, error: null, description: null });
    assert.deepEqual(op, { id: 'op1', done: false });
  });

  it('keeps an error that arrives with done false: failure detected, not final', () => {
    const op = decodeOperation({ id: 'op1', done: false, error: { code: 13, message: 'rolling back' } });
    assert.equal(op.done, false);
    assert.deepEqual(op.error, { code: 13, message: 'rolling back' });
  });

  it('decodes a finished failed operation with details and defaults a missing code to 0', () => {
    const op = decodeOperation({
      id: 'op1',
      done: true,
      error: {
        message: 'x',
        details: [{ '@type': 'type.googleapis.com/google.rpc.DebugInfo', detail: 'd' }],
      },
    });
    assert.equal(op.error?.code, 0);
    assert.equal(op.error?.details?.[0]?.['@type'], 'type.googleapis.com/google.rpc.DebugInfo');
  });

  it('rejects an operation carrying both response and error', () => {
    shapeError(
      () =>
        decodeOperation(
          { id: 'op1', done: true, response: executeResponse('OK'), error: { code: 2, message: 'x' } },
          EXECUTE_PAYLOADS,
        ),
      'response',
    );
  });

  it('allows done with neither response nor error: finished, result unknown', () => {
    const op = decodeOperation({ id: 'op1', done: true }, EXECUTE_PAYLOADS);
    assert.equal(op.done, true);
    assert.equal(op.response, undefined);
    assert.equal(op.error, undefined);
  });

  it('normalises execution status enum ints 0-3 to names', () => {
    const names = ['EXECUTION_STATUS_UNSPECIFIED', 'OK', 'ERROR', 'ABORTED'];
    for (const [index, name] of names.entries()) {
      const op = decodeOperation(
        { id: 'op1', done: true, response: executeResponse(index) },
        EXECUTE_PAYLOADS,
      );
      assert.equal(op.response?.executionStatus, name);
      const byName = decodeOperation(
        { id: 'op1', done: true, response: executeResponse(name) },
        EXECUTE_PAYLOADS,
      );
      assert.equal(byName.response?.executionStatus, name);
    }
  });

  it('reads an absent execution status as unspecified (the ProtoJSON default)', () => {
    const op = decodeOperation(
      {
        id: 'op1',
        done: true,
        response: { '@type': 'type.googleapis.com/yandex.cloud.datasphere.v2.ProjectExecutionResponse' },
      },
      EXECUTE_PAYLOADS,
    );
    assert.equal(op.response?.executionStatus, 'EXECUTION_STATUS_UNSPECIFIED');
    assert.equal(op.response?.executionStatusRaw, undefined);
  });

  it('maps an execution status it does not know to unspecified and keeps the raw value', () => {
    const op = decodeOperation(
      { id: 'op1', done: true, response: executeResponse('TIMED_OUT') },
      EXECUTE_PAYLOADS,
    );
    assert.equal(op.response?.executionStatus, 'EXECUTION_STATUS_UNSPECIFIED');
    assert.equal(op.response?.executionStatusRaw, 'TIMED_OUT');
    const seven = decodeOperation({ id: 'op1', done: true, response: executeResponse(7) }, EXECUTE_PAYLOADS);
    assert.equal(seven.response?.executionStatusRaw, 7);
  });

  it('rejects a wrongly typed execution status and names the field', () => {
    shapeError(
      () => decodeOperation({ id: 'op1', done: true, response: executeResponse({}) }, EXECUTE_PAYLOADS),
      'response.executionStatus',
    );
    shapeError(
      () => decodeOperation({ id: 'op1', done: true, response: executeResponse(1.5) }, EXECUTE_PAYLOADS),
      'response.executionStatus',
    );
  });

  it('matches @type by message-name suffix, whatever the prefix or package', () => {
    const op = decodeOperation(
      {
        id: 'op1',
        done: true,
        response: {
          '@type': 'example.com/yandex.cloud.datasphere.v3.ProjectExecutionResponse',
          executionStatus: 'OK',
        },
      },
      EXECUTE_PAYLOADS,
    );
    assert.equal(op.response?.executionStatus, 'OK');
    assert.equal(messageName({ '@type': 'type.googleapis.com/google.protobuf.Empty' }), 'Empty');
    assert.equal(messageName({}), '');
  });

  it('tolerates an unknown @type and keeps its fields', () => {
    const op = decodeOperation(
      {
        id: 'op1',
        done: true,
        metadata: { '@type': 'type.googleapis.com/yandex.cloud.Other', projectId: 5, extra: 'x' },
        response: { '@type': 'type.googleapis.com/google.protobuf.Empty', executionStatus: {} },
      },
      EXECUTE_PAYLOADS,
    );
    assert.equal(op.metadata?.['@type'], 'type.googleapis.com/yandex.cloud.Other');
    assert.equal(op.metadata?.projectId, undefined);
    assert.equal(op.metadata?.extra, 'x');
    assert.equal(op.response?.executionStatus, 'EXECUTION_STATUS_UNSPECIFIED');
  });

  it('keeps payloads as plain Any messages when no payload decoders are given', () => {
    const op = decodeOperation({
      id: 'op1',
      done: true,
      response: executeResponse(1),
      metadata: { projectId: 'p' },
    });
    assert.equal(op.response?.executionStatus, 1);
    assert.equal(op.metadata?.['@type'], '');
  });

  it('decodes Open metadata and response, statuses as names', () => {
    const op = decodeOperation(
      {
        id: 'op2',
        done: true,
        metadata: {
          '@type': 'type.googleapis.com/yandex.cloud.datasphere.v2.OpenProjectMetadata',
          projectId: 'p1',
          status: 3,
        },
        response: {
          '@type': 'type.googleapis.com/yandex.cloud.datasphere.v2.OpenProjectResponse',
          projectUrl: 'https://datasphere.yandex.cloud/p1',
          sessionToken: 'opaque-session',
        },
      },
      OPEN_PAYLOADS,
    );
    assert.equal(op.metadata?.status, 'OPEN_PROJECT_STATUS_ALLOCATING_VM');
    assert.equal(op.response?.projectUrl, 'https://datasphere.yandex.cloud/p1');
    assert.equal('sessionToken' in (op.response ?? {}), false, 'the session token is dropped');
    const reserved = decodeOperation(
      { id: 'op2', metadata: { '@type': 'x/OpenProjectMetadata', status: 6 } },
      OPEN_PAYLOADS,
    );
    assert.equal(reserved.metadata?.status, 'OPEN_PROJECT_STATUS_UNKNOWN');
    const absent = decodeOperation(
      { id: 'op2', metadata: { '@type': 'x/OpenProjectMetadata' } },
      OPEN_PAYLOADS,
    );
    assert.equal(absent.metadata?.status, 'OPEN_PROJECT_STATUS_UNSPECIFIED');
  });

  it('drops the session token from an Open operation read by Get or Cancel (any payload decoders)', () => {
    const open = finishedOpen('opaque-session');
    const wire = { ...open, response: { ...open.response, session_token: 'opaque-session-2' } };
    for (const op of [
      decodeOperation(wire),
      decodeOperation(wire, ANY_PAYLOADS),
      decodeOperation(wire, EXECUTE_PAYLOADS),
    ]) {
      assert.ok(!JSON.stringify(op).includes('opaque-session'), JSON.stringify(op));
      assert.equal(op.response?.projectUrl, 'https://datasphere.yandex.cloud/p1');
    }
    // A token of a type nobody expects is dropped before any check could quote it.
    const odd = decodeOperation(
      { ...wire, response: { ...wire.response, sessionToken: { value: 'opaque-session' } } },
      OPEN_PAYLOADS,
    );
    assert.ok(!JSON.stringify(odd).includes('opaque-session'));
  });

  it('reads an Open result (projectUrl) from a finished Open operation only', () => {
    const done = decodeOperation({
      id: 'op-open',
      done: true,
      response: {
        '@type': 'type.googleapis.com/yandex.cloud.datasphere.v2.OpenProjectResponse',
        projectUrl: 'https://datasphere.yandex.cloud/p1',
        sessionToken: 'opaque-session',
      },
    });
    assert.deepEqual(openResultOf(done), { projectUrl: 'https://datasphere.yandex.cloud/p1' });
    assert.equal(openResultOf({ ...done, done: false }), undefined);
    assert.equal(
      openResultOf(decodeOperation({ id: 'op', done: true, error: { code: 13, message: 'x' } })),
      undefined,
    );
    assert.equal(
      openResultOf(decodeOperation({ id: 'op', done: true, response: executeResponse('OK') })),
      undefined,
    );
    assert.equal(
      openResultOf(
        decodeOperation({
          id: 'op',
          done: true,
          response: {
            '@type': 'type.googleapis.com/yandex.cloud.datasphere.v2.Other',
            projectUrl: 'https://x',
          },
        }),
      ),
      undefined,
    );
  });

  it('decodes an Activate operation: no metadata, google.protobuf.Empty as the response', () => {
    const running = decodeOperation({ id: 'op-act', done: false, description: 'Activate docker image' });
    assert.deepEqual(running, { id: 'op-act', done: false, description: 'Activate docker image' });
    const done = decodeOperation({
      id: 'op-act',
      done: true,
      response: { '@type': 'type.googleapis.com/google.protobuf.Empty' },
    });
    assert.deepEqual(done, {
      id: 'op-act',
      done: true,
      response: { '@type': 'type.googleapis.com/google.protobuf.Empty' },
    });
    assert.equal(messageName(done.response ?? {}), 'Empty');
  });

  it('rejects bodies that are not operations and names the field', () => {
    shapeError(() => decodeOperation([]), '(body)');
    shapeError(() => decodeOperation('op'), '(body)');
    shapeError(() => decodeOperation(null), '(body)');
    shapeError(() => decodeOperation({ done: true }), 'id');
    shapeError(() => decodeOperation({ id: '' }), 'id');
    shapeError(() => decodeOperation({ id: 'op1', done: 'true' }), 'done');
    shapeError(() => decodeOperation({ id: 'op1', createdAt: 'yesterday' }), 'createdAt');
    shapeError(
      () => decodeOperation({ id: 'op1', modifiedAt: '2025-06-02T06:00:03.1234567890Z' }),
      'modifiedAt',
    );
    shapeError(() => decodeOperation({ id: 'op1', metadata: 'x' }), 'metadata');
    shapeError(() => decodeOperation({ id: 'op1', error: { code: 'INTERNAL' } }), 'error.code');
    shapeError(() => decodeOperation({ id: 'op1', error: { code: 13, details: [1] } }), 'error.details.0');
  });

  it('says what it received in the message, for the log', () => {
    assert.throws(
      () => decodeOperation({ id: 'op1', createdAt: 'yesterday' }),
      /createdAt: expected an RFC 3339 timestamp.*"yesterday"/,
    );
    assert.throws(() => decodeOperation({ done: true }), /id: is missing/);
  });
});

describe('decodeProject', () => {
  it('accepts int64 limits as strings or numbers and normalises them to strings', () => {
    const project = decodeProject({
      id: 'p1',
      name: 'reports',
      createdAt: '2023-12-22T10:30:58.348672821Z',
      labels: { team: 'bi' },
      limits: { maxUnitsPerHour: '100', maxUnitsPerExecution: 20 },
    });
    assert.equal(project.limits?.maxUnitsPerHour, '100');
    assert.equal(project.limits?.maxUnitsPerExecution, '20');
    assert.deepEqual(project.labels, { team: 'bi' });
  });

  it('tolerates unknown and removed fields and normalises enum ints to names', () => {
    const project = decodeProject({
      id: 'p1',
      futureField: { a: 1 },
      settings: {
        serviceAccountId: 'sa1',
        commitMode: 'AUTO',
        ideExecutionMode: 2,
        ide: 1,
        staleExecTimeoutMode: 3,
        vmInactivityTimeout: '3600s',
        securityGroupIds: ['sg1'],
        earlyAccess: true,
        newSetting: 'x',
      },
    });
    assert.equal(project.futureField && typeof project.futureField, 'object');
    assert.equal(project.settings?.ide, 'JUPYTER_LAB');
    assert.equal(project.settings?.staleExecTimeoutMode, 'NO_TIMEOUT');
    assert.equal(project.settings?.commitMode, 'AUTO');
    assert.equal(project.settings?.newSetting, 'x');
    assert.equal(project.settings?.vmInactivityTimeout, '3600s');
  });

  it('rejects a project with a wrongly typed known field, naming it', () => {
    shapeError(
      () => decodeProject({ id: 'p1', limits: { maxUnitsPerHour: 'lots' } }),
      'limits.maxUnitsPerHour',
    );
    shapeError(() => decodeProject({ id: 'p1', limits: { maxUnitsPerHour: 1.5 } }), 'limits.maxUnitsPerHour');
    shapeError(
      () => decodeProject({ id: 'p1', settings: { securityGroupIds: 'sg1' } }),
      'settings.securityGroupIds',
    );
    shapeError(() => decodeProject({ id: 'p1', createdAt: '22.12.2023' }), 'createdAt');
    shapeError(() => decodeProject({ name: 'x' }), 'id');
  });
});
