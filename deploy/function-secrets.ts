/**
 * Which environment variables of which function come from Lockbox, and under which entry of the
 * stage's `runtime` secret. A version carries them as `secrets[] {id, versionId, key,
 * environmentVariable}` (Functions API CreateFunctionVersion): the platform reads the value at
 * start with the function's account (`lockbox.payloadViewer` on that secret), so the version holds
 * only a reference and nobody who can view versions can read the value.
 */
import type { FunctionKey } from './stage-names.ts';

export const SECRET_VARIABLES = {
  NOTIFY_WEBHOOK_SECRET: 'webhook-secret',
  NOTIFY_QUEUE_ACCESS_KEY_ID: 'queue-access-key-id',
  NOTIFY_QUEUE_SECRET_ACCESS_KEY: 'queue-secret-access-key',
} as const;
export type SecretVariable = keyof typeof SECRET_VARIABLES;

/** Only check sends reports, so only check gets the report secrets. */
export const SECRETS_OF: Readonly<Record<FunctionKey, readonly SecretVariable[]>> = {
  execute: [],
  check: ['NOTIFY_WEBHOOK_SECRET', 'NOTIFY_QUEUE_ACCESS_KEY_ID', 'NOTIFY_QUEUE_SECRET_ACCESS_KEY'],
  cancel: [],
};

export interface SecretReference {
  readonly id: string;
  readonly versionId: string;
  readonly key: string;
  readonly environmentVariable: string;
}

/** The references of one function, for the entries the runtime secret holds. */
export function secretReferences(
  key: FunctionKey,
  runtime:
    | {
        readonly secretId: string;
        readonly versionId: string;
        readonly entries: Readonly<Record<string, string>>;
      }
    | undefined,
): SecretReference[] {
  if (runtime === undefined) return [];
  return SECRETS_OF[key]
    .filter((variable) => SECRET_VARIABLES[variable] in runtime.entries)
    .map((variable) => ({
      id: runtime.secretId,
      versionId: runtime.versionId,
      key: SECRET_VARIABLES[variable],
      environmentVariable: variable,
    }));
}
