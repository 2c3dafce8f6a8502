/**
 * The control API under `/_emulator/`, for a test or demo that runs the emulator in another process.
 * No authentication: the emulator binds to 127.0.0.1 by default. JSON has no Infinity, so the string
 * `"Infinity"` stands for it in both directions (fault `times`, plan `durationMs`, `finishesAt`).
 *
 * | route | effect |
 * |---|---|
 * | `GET /_emulator/state` | `{url, operations, requests, plans, faults}` |
 * | `POST /_emulator/plan` | body: a Plan |
 * | `POST /_emulator/faults` | body: a Fault or an array of them |
 * | `DELETE /_emulator/faults` | clears the faults |
 * | `POST /_emulator/reset` | forgets operations, requests, plans, faults, idempotency keys |
 * | `POST /_emulator/operations/{id}:finish` | body `{outcome?}`: finishes the operation now |
 */
import type { Emulator, Fault, Outcome, Plan } from './types.ts';
import { OUTCOMES } from './types.ts';
import type { Answer } from './wire-format.ts';

export interface ControlTarget {
  readonly emulator: Emulator;
  plans(): Plan[];
  faults(): Fault[];
}

type FieldType = 'string' | 'number' | 'outcome';

const PLAN_FIELDS: Readonly<Record<string, FieldType>> = {
  kind: 'string',
  notebookId: 'string',
  projectId: 'string',
  outcome: 'outcome',
  durationMs: 'number',
};

const FAULT_FIELDS: Readonly<Record<string, FieldType>> = {
  kind: 'string',
  method: 'string',
  path: 'string',
  status: 'number',
  rpcCode: 'number',
  message: 'string',
  retryAfterSeconds: 'number',
  latencyMs: 'number',
  body: 'string',
  times: 'number',
};

/** Checks a JSON object against a flat field table; `"Infinity"` is accepted for numbers. */
function fromJson(
  value: unknown,
  fields: Readonly<Record<string, FieldType>>,
  what: string,
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${what} must be a JSON object`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    const type = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (type === undefined) throw new TypeError(`${what}: unknown field "${key}"`);
    if (field === null || field === undefined) continue;
    if (type === 'number') {
      const number = field === 'Infinity' ? Number.POSITIVE_INFINITY : field;
      if (typeof number !== 'number') throw new TypeError(`${what}.${key} must be a number`);
      out[key] = number;
    } else if (type === 'outcome') {
      if (!OUTCOMES.includes(field as Outcome))
        throw new TypeError(`${what}.${key} must be one of ${OUTCOMES.join(', ')}`);
      out[key] = field;
    } else {
      if (typeof field !== 'string') throw new TypeError(`${what}.${key} must be a string`);
      out[key] = field;
    }
  }
  return out;
}

function parseJson(text: string): unknown {
  return text.trim() === '' ? {} : JSON.parse(text);
}

const FINISH = /^\/_emulator\/operations\/([^/:]+):finish$/;

/** Answers one control request; bad input is a 400 with `{code: 3, message}`. */
export function controlAnswer(method: string, path: string, bodyText: string, target: ControlTarget): Answer {
  const { emulator } = target;
  try {
    if (method === 'GET' && path === '/_emulator/state') {
      return {
        status: 200,
        json: {
          url: emulator.url,
          operations: emulator.operations(),
          requests: emulator.requests,
          plans: target.plans(),
          faults: target.faults(),
        },
      };
    }
    if (method === 'POST' && path === '/_emulator/plan') {
      emulator.plan(fromJson(parseJson(bodyText), PLAN_FIELDS, 'plan') as Plan);
      return { status: 200, json: { plans: target.plans() } };
    }
    if (method === 'POST' && path === '/_emulator/faults') {
      const body = parseJson(bodyText);
      const faults = (Array.isArray(body) ? body : [body]).map(
        (f) => fromJson(f, FAULT_FIELDS, 'fault') as unknown as Fault,
      );
      for (const fault of faults) emulator.inject(fault);
      return { status: 200, json: { faults: target.faults() } };
    }
    if (method === 'DELETE' && path === '/_emulator/faults') {
      emulator.clearFaults();
      return { status: 200, json: { faults: [] } };
    }
    if (method === 'POST' && path === '/_emulator/reset') {
      emulator.reset();
      return { status: 200, json: {} };
    }
    const finish = method === 'POST' ? FINISH.exec(path) : null;
    if (finish?.[1] !== undefined) {
      const id = finish[1];
      const { outcome } = fromJson(parseJson(bodyText), { outcome: 'outcome' }, 'finish') as {
        outcome?: Outcome;
      };
      const operation = emulator.operations().find((op) => op.id === id);
      if (operation === undefined)
        return { status: 404, json: { code: 5, message: `Operation ${id} not found` } };
      emulator.finish(id, outcome);
      return { status: 200, json: emulator.operations().find((op) => op.id === id) };
    }
    return { status: 404, json: { code: 5, message: `Unknown control route: ${method} ${path}` } };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { status: 400, json: { code: 3, message } };
  }
}
