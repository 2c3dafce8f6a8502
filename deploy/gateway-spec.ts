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
