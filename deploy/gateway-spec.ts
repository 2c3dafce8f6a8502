/**
 * Fills the API Gateway specification (api-gateway/openapi.yaml) with the deployed ids: every
 * `${var.<name>}` is replaced by its value and the `x-yc-apigateway.variables.<name>.default` set
 * to the same value, so the rendered spec works whether or not the gateway substitutes variables.
 */
import { parseDocument } from 'yaml';

export interface GatewayIds {
  readonly executeFunctionId: string;
  readonly checkFunctionId: string;
  readonly cancelFunctionId: string;
  readonly invokerServiceAccountId: string;
}

/** Yandex Cloud resource ids: lower-case letters and digits (20 in practice). */
const RESOURCE_ID = /^[a-z0-9]{3,50}$/;

/**
 * The rendered specification text.
 * @throws Error when an id is malformed, or the spec uses a variable not in `ids` or declares one
 *   that is not given (a typo would otherwise deploy a gateway pointing nowhere).
 */
export function renderGatewaySpec(specText: string, ids: GatewayIds): string {
  const values: Record<string, string> = { ...ids };
  for (const [name, value] of Object.entries(values)) {
    if (!RESOURCE_ID.test(value)) throw new Error(`${name}: "${value}" is not a Yandex Cloud id`);
  }
  const doc = parseDocument(specText);
  if (doc.errors.length > 0) throw new Error(`gateway spec: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
  const declaredNames = Object.keys((doc.toJS() as SpecRoot)['x-yc-apigateway']?.variables ?? {});
  for (const name of declaredNames) {
    if (!(name in values)) throw new Error(`gateway spec declares variable ${name}, which has no value`);
    doc.setIn(['x-yc-apigateway', 'variables', name, 'default'], values[name]);
  }
  return doc.toString().replace(/\$\{var\.([A-Za-z0-9_]+)\}/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`gateway spec uses \${var.${name}}, which has no value`);
    return value;
  });
}

interface SpecRoot {
  readonly 'x-yc-apigateway'?: { readonly variables?: Record<string, unknown> };
}

/** The one route served without credentials: the console's page, which holds no data (docs/auth.md). */
export const PUBLIC_ROUTES: readonly string[] = ['GET /'];
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * Every way the spec leaves a route open (deny by default, docs/auth.md): each operation but
 * PUBLIC_ROUTES must require credentials, through its own `security` or the document's. In OpenAPI a
 * requirement list means "any one of these"; an empty list, or an empty requirement `{}` in it,
 * lets an anonymous caller through. Every scheme named must be declared.
 */
export function gatewaySecurityProblems(specText: string): string[] {
  const doc = parseDocument(specText);
  if (doc.errors.length > 0) return [`gateway spec: ${doc.errors[0]?.message ?? 'invalid YAML'}`];
  const root = doc.toJS() as {
    security?: unknown;
    paths?: Record<string, Record<string, { security?: unknown }>>;
    components?: { securitySchemes?: Record<string, unknown> };
  };
  const declared = new Set(Object.keys(root.components?.securitySchemes ?? {}));
  const problems: string[] = [];
  const open = (requirements: unknown): string | undefined => {
    if (!Array.isArray(requirements) || requirements.length === 0) return 'requires no credentials';
    for (const requirement of requirements) {
      const names = Object.keys((requirement ?? {}) as object);
      if (names.length === 0) return 'lists an empty security requirement (anyone may call)';
      const unknown = names.filter((name) => !declared.has(name));
      if (unknown.length > 0) return `names the undeclared security scheme ${unknown.join(', ')}`;
    }
    return undefined;
  };
  for (const [path, item] of Object.entries(root.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item?.[method];
      if (operation === undefined) continue;
      const route = `${method.toUpperCase()} ${path}`;
      const effective = operation.security ?? root.security;
      if (PUBLIC_ROUTES.includes(route)) {
        if (open(effective) === undefined)
          problems.push(`gateway spec ${route}: should be public (security: []) but requires credentials`);
        continue;
      }
      const why = open(effective);
      if (why !== undefined) problems.push(`gateway spec ${route}: ${why}`);
    }
  }
  return problems;
}
