/**
 * A small validator for the OpenAPI 3.0 schema subset api-gateway/openapi.yaml uses (type,
 * required, properties, additionalProperties, enum, min/max length and value, items, oneOf, allOf,
 * nullable, local $ref), so the tests can check what the spec accepts without a schema library.
 */

export type Schema = Readonly<Record<string, unknown>>;

/** Problems of `value` against `schema` (`[]` = valid); `root` resolves `#/…` references. */
export function validate(value: unknown, schema: Schema, root: unknown, path = '$'): string[] {
  const ref = schema.$ref;
  if (typeof ref === 'string') return validate(value, resolveRef(root, ref), root, path);
  if (value === null && schema.nullable === true) return [];
  const problems: string[] = [];
  if (Array.isArray(schema.allOf)) {
    for (const part of schema.allOf as Schema[]) problems.push(...validate(value, part, root, path));
  }
  if (Array.isArray(schema.oneOf)) {
    const matching = (schema.oneOf as Schema[]).filter(
      (part) => validate(value, part, root, path).length === 0,
    );
    if (matching.length !== 1) problems.push(`${path}: matches ${matching.length} of oneOf, expected 1`);
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) {
    problems.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (typeof schema.type === 'string' && !hasType(value, schema.type)) {
    return [...problems, `${path}: expected ${schema.type}, got ${JSON.stringify(value)}`];
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength)
      problems.push(`${path}: too short`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength)
      problems.push(`${path}: too long`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) problems.push(`${path}: below minimum`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) problems.push(`${path}: above maximum`);
  }
  if (Array.isArray(value) && schema.items !== undefined) {
    value.forEach((item, i) => {
      problems.push(...validate(item, schema.items as Schema, root, `${path}[${i}]`));
    });
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const name of (schema.required ?? []) as string[]) {
      if (!(name in object)) problems.push(`${path}.${name}: required`);
    }
    for (const [name, item] of Object.entries(object)) {
      const own = properties[name];
      if (own !== undefined) problems.push(...validate(item, own, root, `${path}.${name}`));
      else if (schema.additionalProperties === false) problems.push(`${path}.${name}: unknown field`);
      else if (typeof schema.additionalProperties === 'object' && schema.additionalProperties !== null) {
        problems.push(...validate(item, schema.additionalProperties as Schema, root, `${path}.${name}`));
      }
    }
  }
  return problems;
}

/** The schema at a local reference like `#/components/schemas/RunRequest`. */
export function resolveRef(root: unknown, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`only local references are supported: ${ref}`);
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) {
    node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[part] : undefined;
  }
  if (typeof node !== 'object' || node === null) throw new Error(`unresolved reference ${ref}`);
  return node as Schema;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    default:
      return typeof value === type;
  }
}
