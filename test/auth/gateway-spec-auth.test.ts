/**
 * The API Gateway specification and the local front door agree on authentication (docs/auth.md): every
 * operation requires a credential (declared, deny by default), carries the context that marks its calls
 * as the gateway's, and documents 401; the front door marks the same routes with the same context.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { GATEWAY_ROUTES, route } from '../../local/platform.ts';
import { ERROR_CODES } from '../../shared/errors.ts';

const spec = parse(readFileSync(join(import.meta.dirname, '../../api-gateway/openapi.yaml'), 'utf8')) as {
  security?: Record<string, unknown[]>[];
  components: {
    securitySchemes?: Record<string, Record<string, unknown>>;
    responses: Record<string, { headers?: Record<string, unknown> }>;
    schemas: { Error: { properties: { error: { properties: { code: { enum: string[] } } } } } };
  };
  paths: Record<string, Record<string, Record<string, unknown>>>;
};

const operations = () =>
  Object.entries(spec.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method: method.toUpperCase(), operation })),
  );

describe('authentication in the gateway specification', () => {
  it('declares both credentials at the top, and no operation opts out', () => {
    assert.deepEqual(spec.security, [{ iamToken: [] }, { apiKey: [] }]);
    assert.deepEqual(spec.components.securitySchemes?.iamToken, {
      type: 'http',
      scheme: 'bearer',
      description: spec.components.securitySchemes?.iamToken?.description,
    });
    assert.equal(spec.components.securitySchemes?.apiKey?.in, 'header');
    assert.equal(spec.components.securitySchemes?.apiKey?.name, 'X-Api-Key');
    for (const { path, method, operation } of operations()) {
      if (operation.operationId === 'webConsole') {
        // The console's page alone is public: it holds no data (its API calls carry the credential).
        assert.deepEqual([method, path, operation.security], ['GET', '/', []]);
        continue;
      }
      assert.equal(operation.security, undefined, `${method} ${path} must not override security`);
      assert.ok(Object.hasOwn(operation.responses as object, '401'), `${method} ${path} documents 401`);
    }
    assert.ok(spec.components.responses.Unauthenticated?.headers?.['WWW-Authenticate']);
    const codes = spec.components.schemas.Error.properties.error.properties.code.enum;
    assert.deepEqual(
      ERROR_CODES.filter((code) => !codes.includes(code)),
      [],
      'every error code is documented',
    );
  });

  it('marks each integration with the context the local front door gives the same route', () => {
    assert.equal(operations().length, GATEWAY_ROUTES.length + 1, 'the API routes and the console page');
    for (const { path, method, operation } of operations()) {
      const integration = operation['x-yc-apigateway-integration'] as { context?: unknown };
      assert.deepEqual(integration.context, { api: 'datasphere-runner', operation: operation.operationId });
      if (path === '/') continue;
      const concrete = path.replace('{runId}', 'r1');
      const local = route(method, concrete);
      assert.equal(local.kind, 'function', `${method} ${path}`);
      assert.deepEqual(local.kind === 'function' ? local.gateway : undefined, {
        path,
        operationId: operation.operationId,
      });
    }
  });
});
