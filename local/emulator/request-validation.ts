/**
 * Request checks the real DataSphere API makes (api.md §2): the request schemas are
 * `additionalProperties: false`, Execute needs exactly one of notebookId/cellId, ids have length limits.
 * ProtoJSON accepts proto (snake_case) names on input, so both spellings are accepted; an empty string is
 * the proto default and counts as absent.
 */
import type { FieldViolation } from './wire-format.ts';

export const MAX_PROJECT_ID = 50;
export const MAX_NOTEBOOK_ID = 200;

export interface ExecuteRequest {
  notebookId?: string;
  cellId?: string;
  inputVariables?: Record<string, unknown>;
  outputVariableNames?: string[];
  spec?: string;
  sparkConnectorId?: string;
}

export interface ActivateRequest {
  projectId: string;
  dockerId: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; violation: FieldViolation };

const EXECUTE_FIELDS: Readonly<Record<string, keyof ExecuteRequest>> = {
  notebookId: 'notebookId',
  notebook_id: 'notebookId',
  cellId: 'cellId',
  cell_id: 'cellId',
  inputVariables: 'inputVariables',
  input_variables: 'inputVariables',
  outputVariableNames: 'outputVariableNames',
  output_variable_names: 'outputVariableNames',
  spec: 'spec',
  sparkConnectorId: 'sparkConnectorId',
  spark_connector_id: 'sparkConnectorId',
};

const ACTIVATE_FIELDS: Readonly<Record<string, keyof ActivateRequest>> = {
  projectId: 'projectId',
  project_id: 'projectId',
  dockerId: 'dockerId',
  docker_id: 'dockerId',
};

function fail<T>(field: string, description: string): Checked<T> {
  return { ok: false, violation: { field, description } };
}

/** Renames accepted keys to their lowerCamel names; refuses unknown and doubly-given fields. */
function canonicalFields<K extends string>(
  body: Record<string, unknown>,
  names: Readonly<Record<string, K>>,
): Checked<Partial<Record<K, unknown>>> {
  const out: Partial<Record<K, unknown>> = {};
  for (const [key, value] of Object.entries(body)) {
    const name = Object.hasOwn(names, key) ? names[key] : undefined;
    if (name === undefined) return fail(key, `unknown field "${key}"`);
    if (Object.hasOwn(out, name)) return fail(name, `field "${name}" given twice`);
    // null is the ProtoJSON way of saying "default"
    if (value !== null) out[name] = value;
  }
  return { ok: true, value: out };
}

function optionalString(value: unknown, field: string, max: number | undefined): Checked<string | undefined> {
  if (value === undefined || value === '') return { ok: true, value: undefined };
  if (typeof value !== 'string') return fail(field, 'must be a string');
  if (max !== undefined && value.length > max) return fail(field, `length must be at most ${max}`);
  return { ok: true, value };
}

/** The path-bound project id: required, at most 50 characters. */
export function checkProjectId(projectId: string, field = 'projectId'): FieldViolation | undefined {
  if (projectId.length === 0) return { field, description: 'is required' };
  if (projectId.length > MAX_PROJECT_ID)
    return { field, description: `length must be at most ${MAX_PROJECT_ID}` };
  return undefined;
}

/** Project.Execute's body. */
export function checkExecuteBody(body: Record<string, unknown>): Checked<ExecuteRequest> {
  const fields = canonicalFields(body, EXECUTE_FIELDS);
  if (!fields.ok) return fields;
  const raw = fields.value;
  const request: ExecuteRequest = {};
  for (const [field, max] of [
    ['notebookId', MAX_NOTEBOOK_ID],
    ['cellId', MAX_NOTEBOOK_ID],
    ['spec', undefined],
    ['sparkConnectorId', MAX_NOTEBOOK_ID],
  ] as const) {
    const checked = optionalString(raw[field], field, max);
    if (!checked.ok) return checked;
    if (checked.value !== undefined) request[field] = checked.value;
  }
  if ((request.notebookId === undefined) === (request.cellId === undefined)) {
    return fail('notebookId', 'exactly one of notebookId and cellId must be set');
  }
  const vars = raw.inputVariables;
  if (vars !== undefined) {
    if (typeof vars !== 'object' || Array.isArray(vars)) return fail('inputVariables', 'must be an object');
    request.inputVariables = vars as Record<string, unknown>;
  }
  const names = raw.outputVariableNames;
  if (names !== undefined) {
    if (!Array.isArray(names) || !names.every((name) => typeof name === 'string')) {
      return fail('outputVariableNames', 'must be an array of strings');
    }
    request.outputVariableNames = names;
  }
  return { ok: true, value: request };
}

/** DockerImage.Activate's body: projectId and dockerId, both required, at most 50 characters. */
export function checkActivateBody(body: Record<string, unknown>): Checked<ActivateRequest> {
  const fields = canonicalFields(body, ACTIVATE_FIELDS);
  if (!fields.ok) return fields;
  const values: Partial<ActivateRequest> = {};
  for (const field of ['projectId', 'dockerId'] as const) {
    const checked = optionalString(fields.value[field], field, MAX_PROJECT_ID);
    if (!checked.ok) return checked;
    if (checked.value === undefined) return fail(field, 'is required');
    values[field] = checked.value;
  }
  return { ok: true, value: values as ActivateRequest };
}

/** Project.Open's body: `{}` (the only request field is in the path). */
export function checkOpenBody(body: Record<string, unknown>): Checked<Record<string, never>> {
  const [first] = Object.keys(body);
  if (first !== undefined) return fail(first, `unknown field "${first}"`);
  return { ok: true, value: {} };
}
