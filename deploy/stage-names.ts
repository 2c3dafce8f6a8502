/**
 * The name of every resource the deploy creates, derived from the service and the stage. Each name
 * is `<service>-<stage>-<role>` (or `<service>-<stage>`): the stage has no hyphen, so two stages can
 * never produce the same name, and the deploy only ever acts on exact names, never on prefixes.
 * That is what keeps `--stage test` from touching `prod` (issue #15).
 */

/** Lower-case letters and digits, starting with a letter: it becomes part of every name. */
export const STAGE_PATTERN = /^[a-z][a-z0-9]{0,15}$/;

export const FUNCTION_KEYS = ['execute', 'check', 'cancel'] as const;
export type FunctionKey = (typeof FUNCTION_KEYS)[number];

export const ACCOUNT_ROLES = ['functions', 'invoker', 'queues', 'sender'] as const;
export type AccountRole = (typeof ACCOUNT_ROLES)[number];

export const TRIGGER_ROLES = ['jobs-tick', 'sweep', 'run-requests', 'cancel-requests'] as const;
export type TriggerRole = (typeof TRIGGER_ROLES)[number];

export const QUEUE_ROLES = ['runs', 'cancels', 'dead-letters'] as const;
export type QueueRole = (typeof QUEUE_ROLES)[number];

export const SECRET_ROLES = ['runtime', 'deploy'] as const;
export type SecretRole = (typeof SECRET_ROLES)[number];

export interface StageNames {
  readonly service: string;
  readonly stage: string;
  /** `<service>-<stage>`: also the name of the database and of the API gateway. */
  readonly prefix: string;
  /** As the Serverless plugin names them: `<service>-<stage>-<key>`. */
  readonly functions: Readonly<Record<FunctionKey, string>>;
  readonly accounts: Readonly<Record<AccountRole, string>>;
  readonly triggers: Readonly<Record<TriggerRole, string>>;
  readonly queues: Readonly<Record<QueueRole, string>>;
  readonly secrets: Readonly<Record<SecretRole, string>>;
  readonly database: string;
  readonly gateway: string;
}

function each<K extends string>(keys: readonly K[], name: (key: K) => string): Record<K, string> {
  return Object.fromEntries(keys.map((key) => [key, name(key)])) as Record<K, string>;
}

/** @throws Error when the stage cannot be part of a name. */
export function stageNames(service: string, stage: string): StageNames {
  if (!STAGE_PATTERN.test(stage)) {
    throw new Error(`stage "${stage}": use 1-16 lower-case letters and digits, starting with a letter`);
  }
  if (!/^[a-z][a-z0-9-]{0,30}[a-z0-9]$/.test(service)) throw new Error(`service "${service}" is not a name`);
  const prefix = `${service}-${stage}`;
  const named = (role: string): string => `${prefix}-${role}`;
  return Object.freeze({
    service,
    stage,
    prefix,
    functions: each(FUNCTION_KEYS, named),
    accounts: each(ACCOUNT_ROLES, named),
    triggers: each(TRIGGER_ROLES, named),
    queues: each(QUEUE_ROLES, named),
    secrets: each(SECRET_ROLES, named),
    database: prefix,
    gateway: prefix,
  });
}

/** Every name of a stage, for tests and the report. */
export function allNames(names: StageNames): string[] {
  return [
    ...Object.values(names.functions),
    ...Object.values(names.accounts),
    ...Object.values(names.triggers),
    ...Object.values(names.queues),
    ...Object.values(names.secrets),
    names.database,
  ];
}
