import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { httpEvent } from '../../local/cloud-events.ts';
import { isGatewayCall } from '../../shared/triggers/gateway-call.ts';
import type { HttpEvent } from '../../shared/triggers/trigger-event.ts';

const fixture = (name: string): HttpEvent =>
  JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/events', name), 'utf8')) as HttpEvent;

describe('telling a call through the API Gateway from a direct invocation', () => {
  it('takes the real-shaped URL invocations (and the older shape without url/path) as direct', () => {
    for (const name of ['http-url-json.json', 'http-url-base64.json'])
      assert.equal(isGatewayCall(fixture(name)), false, name);
    const {
      url: _url,
      path: _path,
      ...older
    } = fixture('http-url-json.json') as HttpEvent & Record<string, unknown>;
    assert.equal(isGatewayCall(older as HttpEvent), false);
    assert.equal(
      isGatewayCall(httpEvent({ method: 'GET', headers: {}, url: '/check?runId=r1', body: Buffer.alloc(0) })),
      false,
    );
  });

  it('takes any of the gateway marks as a gateway call', () => {
    const base = fixture('http-url-json.json') as HttpEvent & Record<string, unknown>;
    const marked: Record<string, HttpEvent> = {
      'payload 0.1 (url + spec path)': { ...base, url: '/runs/r1', path: '/runs/{runId}' },
      'spec path only': { ...base, path: '/runs' },
      'payload 1.0 (resource, nothing else)': {
        ...base,
        resource: '/runs/{runId}',
        url: '',
        path: '',
      } as HttpEvent,
      'the integration context': {
        ...base,
        requestContext: { ...(base.requestContext as object), apiGateway: { operationContext: {} } },
      } as HttpEvent,
      'an authorizer context': {
        ...base,
        requestContext: { ...(base.requestContext as object), authorizer: {} },
      } as HttpEvent,
      'the gateway id header': {
        ...base,
        headers: { ...base.headers, 'x-serverless-gateway-id': 'd5d0fake' },
      },
      'the gateway id header (multi-value only)': {
        ...base,
        multiValueHeaders: { 'X-Serverless-Gateway-Id': ['d5d0fake'] },
      },
    };
    for (const [what, event] of Object.entries(marked)) assert.equal(isGatewayCall(event), true, what);
  });

  it('is what the local front door builds for the gateway routes, with the caller\u2019s Authorization kept', () => {
    const event = httpEvent({
      method: 'GET',
      headers: { authorization: 'Bearer t1.fake-token-0000', cookie: 'a=b' },
      url: '/runs/r1?x=1',
      body: Buffer.alloc(0),
      pathParameters: { runId: 'r1' },
      gateway: {
        specPath: '/runs/{runId}',
        operationContext: { api: 'datasphere-runner', operation: 'getRun' },
      },
    });
    assert.equal(isGatewayCall(event), true);
    assert.equal(event.url, '/runs/r1');
    assert.equal(event.path, '/runs/{runId}');
    assert.equal(event.headers.Authorization, 'Bearer t1.fake-token-0000');
    assert.equal(event.headers.Cookie, undefined);
    const direct = httpEvent({
      method: 'GET',
      headers: { authorization: 'Bearer t1.fake-token-0000' },
      url: '/check',
      body: Buffer.alloc(0),
    });
    assert.equal(
      direct.headers.Authorization,
      undefined,
      'a URL invocation loses Authorization (platform.md §6)',
    );
  });
});
