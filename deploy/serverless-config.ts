/**
 * Reads serverless.yaml the way the deploy tools need it: the expected deployment (for the
 * post-deploy verification) and each function's resolved environment (for the pre-deploy check).
 * Deriving both from the file itself keeps them from drifting apart from what is deployed.
 *
 * Only the variable forms this repository's serverless.yaml uses are resolved:
 * `${env:NAME}`, `${env:NAME, 'default'}`, `${opt:stage, 'default'}`, and `${lockbox:…}` (left
 * as an opaque placeholder: it is resolved by the plugin at deploy time, with the deployer's
 * credentials).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { ExpectedDeployment, ExpectedFunction, ExpectedTrigger } from './deployment-model.ts';

type Env = Readonly<Record<string, string | undefined>>;

export interface ResolveContext {
  readonly env: Env;
  /** CLI options (`stage`). */
  readonly options: Readonly<Record<string, string | undefined>>;
}

/** Stands for a `${lockbox:…}` value: known to exist, not known here. */
export const LOCKBOX_PLACEHOLDER = '<lockbox>';

const VARIABLE = /^\$\{(env|opt|lockbox):([^,}]+?)(?:,\s*'([^']*)')?\}$/;

/** The parsed serverless.yaml (YAML merge keys `<<:` expanded, as the framework does). */
export function loadServerlessConfig(path: string): Record<string, unknown> {
  const doc: unknown = parse(readFileSync(path, 'utf8'), { merge: true });
  if (!isRecord(doc)) throw new Error(`${path}: not a YAML mapping`);
  return doc;
}

/**
 * Resolves one scalar. A whole-value variable is resolved; anything else is returned as is.
 * @throws Error naming the variable when it has no value and no default.
 */
export function resolveValue(value: unknown, ctx: ResolveContext, where: string): string {
  const text = String(value);
  const match = VARIABLE.exec(text.trim());
  if (match === null) {
    if (text.includes('${')) throw new Error(`${where}: unsupported variable form "${text}"`);
    return text;
  }
  const [, source, name = '', fallback] = match;
  if (source === 'lockbox') return LOCKBOX_PLACEHOLDER;
  const found = source === 'env' ? ctx.env[name.trim()] : ctx.options[name.trim()];
  if (found !== undefined && found !== '') return found;
  if (fallback !== undefined) return fallback;
  throw new Error(`${where}: ${source}:${name.trim()} is not set and has no default`);
}

/** `<service>-<stage>`, the prefix of every function name. */
export function servicePrefix(config: Record<string, unknown>, ctx: ResolveContext): string {
  const provider = record(config.provider, 'provider');
  const stage = resolveValue(provider.stage ?? 'dev', ctx, 'provider.stage');
  return `${String(config.service)}-${stage}`;
}

/** Each function's environment as the plugin would send it, keyed by function key. */
export function functionEnvironments(
  config: Record<string, unknown>,
  ctx: ResolveContext,
): Record<string, Record<string, string>> {
  const result: Record<string, Record<string, string>> = {};
  for (const [key, fn] of Object.entries(record(config.functions, 'functions'))) {
    const environment = record(
      record(fn, `functions.${key}`).environment ?? {},
      `functions.${key}.environment`,
    );
    result[key] = Object.fromEntries(
      Object.entries(environment).map(([name, value]) => [
        name,
        resolveValue(value, ctx, `functions.${key}.environment.${name}`),
      ]),
    );
  }
  return result;
}

/** The deployment serverless.yaml describes, with every name as the plugin makes it. */
export function expectedDeployment(
  config: Record<string, unknown>,
  ctx: ResolveContext,
  notBefore?: string,
): ExpectedDeployment {
  const provider = record(config.provider, 'provider');
  const runtime = String(provider.runtime);
  const prefix = servicePrefix(config, ctx);
  const functions: ExpectedFunction[] = [];
  const triggers: ExpectedTrigger[] = [];
  for (const [key, raw] of Object.entries(record(config.functions, 'functions'))) {
    const fn = record(raw, `functions.${key}`);
    const name = `${prefix}-${key}`;
    functions.push({
      key,
      name,
      runtime,
      entrypoint: String(fn.handler),
      memoryMb: Number(fn.memorySize),
      timeoutSeconds: Number(fn.timeout),
      environmentNames: Object.keys(record(fn.environment ?? {}, `functions.${key}.environment`)),
      serviceAccountName: String(fn.account),
    });
    const events = Array.isArray(fn.events) ? (fn.events as unknown[]) : [];
    events.forEach((event, index) => {
      const where = `functions.${key}.events.${index}`;
      const entry = record(event, where);
      if (entry.cron !== undefined) {
        const cron = record(entry.cron, `${where}.cron`);
        triggers.push({
          type: 'cron',
          name: `${name}-cron`,
          functionName: name,
          invokerAccountName: String(cron.account),
          cronExpression: resolveValue(cron.expression, ctx, `${where}.cron.expression`),
        });
      } else if (entry.ymq !== undefined) {
        const ymq = record(entry.ymq, `${where}.ymq`);
        triggers.push({
          type: 'ymq',
          name: `${name}-ymq`,
          functionName: name,
          invokerAccountName: String(ymq.account),
          queueAccountName: String(ymq.queueAccount),
          queueId: resolveValue(ymq.queueId, ctx, `${where}.ymq.queueId`),
          batchSize: Number(ymq.batch),
        });
      }
    });
  }
  const serviceAccountNames = Object.entries(record(config.resources ?? {}, 'resources'))
    .filter(([, value]) => isRecord(value) && value.type === 'yc::ServiceAccount')
    .map(([name]) => name);
  return { functions, triggers, serviceAccountNames, ...(notBefore === undefined ? {} : { notBefore }) };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (!isRecord(value)) throw new Error(`serverless.yaml ${where}: expected a mapping`);
  return value;
}
