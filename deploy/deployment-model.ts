/**
 * What a deployment should look like (derived from serverless.yaml) and what the Yandex Cloud API
 * says it looks like. The observed shapes are the subset of the REST answers we read:
 * - Functions `GET https://serverless-functions.api.cloud.yandex.net/functions/v1/functions?folderId=…`
 * - versions `GET …/functions/v1/versions?functionId=…` (Version: runtime, entrypoint,
 *   resources.memory in bytes as an int64 string, executionTimeout as a duration like "60s",
 *   serviceAccountId, status, tags[], environment)
 * - triggers `GET https://serverless-triggers.api.cloud.yandex.net/triggers/v1/triggers?folderId=…`
 * - service accounts `GET https://iam.api.cloud.yandex.net/iam/v1/serviceAccounts?folderId=…`
 * (yandex-cloud/docs: en/functions/functions/api-ref/Function/list.md, listVersions.md,
 * en/functions/triggers/api-ref/Trigger/list.md, en/_api-ref/iam/api-ref/ServiceAccount/list.md).
 */

export interface ExpectedFunction {
  /** Key in serverless.yaml (`execute`). */
  readonly key: string;
  /** Cloud name, `<service>-<stage>-<key>`. */
  readonly name: string;
  readonly runtime: string;
  readonly entrypoint: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** Names only: values may be secrets and are never compared or printed. */
  readonly environmentNames: readonly string[];
  /** Name of the service account the function runs as. */
  readonly serviceAccountName: string;
}

interface ExpectedTriggerBase {
  /** `<function name>-<type>`: the plugin allows one trigger of each type per function. */
  readonly name: string;
  readonly functionName: string;
  /** Service account that invokes the function. */
  readonly invokerAccountName: string;
}

export interface ExpectedCronTrigger extends ExpectedTriggerBase {
  readonly type: 'cron';
  readonly cronExpression: string;
}

export interface ExpectedQueueTrigger extends ExpectedTriggerBase {
  readonly type: 'ymq';
  /** Queue ARN, `yrn:yc:ymq:ru-central1:<folder-id>:<queue-name>`. */
  readonly queueId: string;
  readonly batchSize: number;
  /** Service account that reads the queue. */
  readonly queueAccountName: string;
}

export type ExpectedTrigger = ExpectedCronTrigger | ExpectedQueueTrigger;

export interface ExpectedDeployment {
  readonly functions: readonly ExpectedFunction[];
  readonly triggers: readonly ExpectedTrigger[];
  readonly serviceAccountNames: readonly string[];
  /**
   * When the deploy started (ISO). The plugin creates a new version and recreates every trigger on
   * each deploy, so anything older means this deploy did not get that far. Absent = not checked.
   */
  readonly notBefore?: string;
}

export interface CloudFunction {
  readonly id: string;
  readonly name: string;
  readonly status?: string;
  readonly httpInvokeUrl?: string;
}

export interface FunctionVersion {
  readonly id: string;
  readonly functionId: string;
  readonly createdAt?: string;
  readonly runtime?: string;
  readonly entrypoint?: string;
  readonly resources?: { readonly memory?: string | number };
  readonly executionTimeout?: string;
  readonly serviceAccountId?: string;
  readonly status?: string;
  readonly tags?: readonly string[];
  readonly environment?: Readonly<Record<string, string>>;
}

export interface InvokeFunction {
  readonly functionId?: string;
  readonly serviceAccountId?: string;
}

export interface CloudTrigger {
  readonly id: string;
  readonly name: string;
  readonly createdAt?: string;
  readonly status?: string;
  readonly rule?: {
    readonly timer?: {
      readonly cronExpression?: string;
      readonly invokeFunction?: InvokeFunction;
      readonly invokeFunctionWithRetry?: InvokeFunction;
    };
    readonly messageQueue?: {
      readonly queueId?: string;
      readonly serviceAccountId?: string;
      readonly batchSettings?: { readonly size?: string | number; readonly cutoff?: string };
      readonly invokeFunction?: InvokeFunction;
    };
  };
}

export interface ServiceAccount {
  readonly id: string;
  readonly name: string;
}

export interface ObservedDeployment {
  readonly functions: readonly CloudFunction[];
  /** Versions per function id (only for the functions that exist). */
  readonly versions: Readonly<Record<string, readonly FunctionVersion[]>>;
  readonly triggers: readonly CloudTrigger[];
  readonly serviceAccounts: readonly ServiceAccount[];
}
