/**
 * Reads serverless.yaml the way the deploy needs it: the service name and each function's settings
 * and resolved environment, exactly as the Serverless plugin will send them, so the deploy's own
 * version (the one with `secrets[]`) repeats them and the checks validate what will run.
 *
 * Only the variable forms this repository's serverless.yaml uses are resolved: `${env:NAME}`,
 * `${env:NAME, 'default'}` and `${opt:stage, 'default'}`. `${lockbox:…}` is refused: the plugin
 * would resolve it into a plain environment variable; secrets reach the functions as Lockbox
 * references instead (deploy/function-secrets.ts).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { FUNCTION_KEYS, type FunctionKey } from './stage-names.ts';

type Env = Readonly<Record<string, string | undefined>>;

export interface ResolveContext {
  readonly env: Env;
  /** CLI options (`stage`). */
  readonly options: Readonly<Record<string, string | undefined>>;
}

/** One function as serverless.yaml describes it, its environment resolved. */
export interface FunctionSpec {
  readonly key: FunctionKey;
  readonly runtime: string;
  readonly entrypoint: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** Relative to the repository root (`dist/execute.zip`). */
  readonly artifact: string;
  readonly environment: Readonly<Record<string, string>>;
}

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
  if (source === 'lockbox') {
    throw new Error(
      `${where}: \${lockbox:…} would become a plain environment variable; the deploy passes secrets as Lockbox references`,
    );
  }
  const found = source === 'env' ? ctx.env[name.trim()] : ctx.options[name.trim()];
  if (found !== undefined && found !== '') return found;
  if (fallback !== undefined) return fallback;
  throw new Error(`${where}: ${source}:${name.trim()} is not set and has no default`);
}

export function serviceName(config: Record<string, unknown>): string {
  return String(config.service);
}

/**
 * Every function of serverless.yaml, in the order of FUNCTION_KEYS.
 * @throws AggregateError listing every unresolvable value (not only the first).
 */
export function functionSpecs(config: Record<string, unknown>, ctx: ResolveContext): FunctionSpec[] {
  const { specs, problems } = readFunctionSpecs(config, ctx);
  if (problems.length > 0)
    throw new AggregateError(
      problems.map((p) => new Error(p)),
      problems.join('; '),
    );
  return specs;
}

/**
 * The functions with every value that resolves, and one problem per unresolvable variable (naming
 * the functions that use it), so the checks can go on and report everything at once.
 */
export function readFunctionSpecs(
  config: Record<string, unknown>,
  ctx: ResolveContext,
): { specs: FunctionSpec[]; problems: string[] } {
  const provider = record(config.provider, 'provider');
  const functions = record(config.functions, 'functions');
  const problems: { problem: string; where: string[] }[] = [];
  const specs: FunctionSpec[] = [];
  const keys = Object.keys(functions);
  if (keys.length !== FUNCTION_KEYS.length || !FUNCTION_KEYS.every((k) => keys.includes(k))) {
    throw new Error(
      `serverless.yaml functions: expected ${FUNCTION_KEYS.join(', ')}, found ${keys.join(', ')}`,
    );
  }
  for (const key of FUNCTION_KEYS) {
    const fn = record(functions[key], `functions.${key}`);
    const environment: Record<string, string> = {};
    for (const [name, value] of Object.entries(
      record(fn.environment ?? {}, `functions.${key}.environment`),
    )) {
      try {
        environment[name] = resolveValue(value, ctx, `functions.${key}.environment.${name}`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const where = `functions.${key}.environment.${name}: `;
        const problem = message.startsWith(where) ? message.slice(where.length) : message;
        const seen = problems.find((p) => p.problem === problem);
        if (seen === undefined) problems.push({ problem, where: [`${key}.${name}`] });
        else seen.where.push(`${key}.${name}`);
      }
    }
    const artifact = record(fn.package ?? {}, `functions.${key}.package`).artifact;
    specs.push({
      key,
      runtime: String(provider.runtime),
      entrypoint: String(fn.handler),
      memoryMb: Number(fn.memorySize),
      timeoutSeconds: Number(fn.timeout),
      artifact: String(artifact),
      environment,
    });
  }
  return {
    specs,
    problems: problems.map((p) => `serverless.yaml functions.${p.where.join(', ')}: ${p.problem}`),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (!isRecord(value)) throw new Error(`serverless.yaml ${where}: expected a mapping`);
  return value;
}
