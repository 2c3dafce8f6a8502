/**
 * Compares what serverless.yaml asked for with what the Yandex Cloud API reports. Pure: the
 * fetcher (`cloud-api.ts`) supplies the observed state, so tests feed it recorded answers.
 *
 * Needed because the Serverless plugin exits 0 even when a deploy fails (platform.md §9, trap 4).
 */
import type {
  CloudTrigger,
  ExpectedDeployment,
  ExpectedFunction,
  ExpectedTrigger,
  FunctionVersion,
  InvokeFunction,
  ObservedDeployment,
} from './deployment-model.ts';

const LATEST_TAG = '$latest';
const MB = 1024 * 1024;

/**
 * Lists every way the observed deployment differs from the expected one; `[]` means healthy.
 * Each problem names the function, trigger or service account it is about. Environment VALUES
 * are never read: only the names are compared, since values may be secrets.
 */
export function verifyDeployment(expected: ExpectedDeployment, observed: ObservedDeployment): string[] {
  const problems: string[] = [];
  const accountIds = new Map<string, string>();
  for (const name of expected.serviceAccountNames) {
    const account = observed.serviceAccounts.find((a) => a.name === name);
    if (account === undefined) problems.push(`service account ${name}: missing`);
    else accountIds.set(name, account.id);
  }

  const functionIds = new Map<string, string>();
  for (const fn of expected.functions) {
    const found = observed.functions.find((f) => f.name === fn.name);
    if (found === undefined) {
      problems.push(`function ${fn.name}: missing`);
      continue;
    }
    functionIds.set(fn.name, found.id);
    if (found.status !== undefined && found.status !== 'ACTIVE') {
      problems.push(`function ${fn.name}: status ${found.status}, expected ACTIVE`);
    }
    problems.push(...checkVersion(fn, observed.versions[found.id] ?? [], accountIds, expected.notBefore));
  }

  for (const trigger of expected.triggers) {
    const found = observed.triggers.find((t) => t.name === trigger.name);
    if (found === undefined) {
      problems.push(`trigger ${trigger.name}: missing`);
      continue;
    }
    problems.push(...checkTrigger(trigger, found, functionIds, accountIds, expected.notBefore));
  }
  return problems;
}

function checkVersion(
  fn: ExpectedFunction,
  versions: readonly FunctionVersion[],
  accountIds: ReadonlyMap<string, string>,
  notBefore: string | undefined,
): string[] {
  const where = `function ${fn.name}`;
  if (versions.length === 0) return [`${where}: has no version`];
  const latest = versions.find((v) => v.tags?.includes(LATEST_TAG));
  if (latest === undefined) return [`${where}: no version is tagged ${LATEST_TAG}`];

  const problems: string[] = [];
  const at = `${where} (version ${latest.id})`;
  if (latest.status !== undefined && latest.status !== 'ACTIVE') {
    problems.push(`${at}: status ${latest.status}, expected ACTIVE`);
  }
  if (latest.runtime !== fn.runtime) {
    problems.push(`${at}: runtime ${latest.runtime ?? '(none)'}, expected ${fn.runtime}`);
  }
  if (latest.entrypoint !== fn.entrypoint) {
    problems.push(`${at}: entrypoint ${latest.entrypoint ?? '(none)'}, expected ${fn.entrypoint}`);
  }
  const memory = Number(latest.resources?.memory);
  if (memory !== fn.memoryMb * MB) {
    const seen = Number.isFinite(memory) ? `${memory / MB} MB` : '(none)';
    problems.push(`${at}: memory ${seen}, expected ${fn.memoryMb} MB`);
  }
  const timeout = durationSeconds(latest.executionTimeout);
  if (timeout !== fn.timeoutSeconds) {
    problems.push(`${at}: timeout ${latest.executionTimeout ?? '(none)'}, expected ${fn.timeoutSeconds}s`);
  }
  const present = new Set(Object.keys(latest.environment ?? {}));
  const absent = fn.environmentNames.filter((name) => !present.has(name));
  if (absent.length > 0) problems.push(`${at}: environment lacks ${absent.join(', ')}`);
  const accountId = accountIds.get(fn.serviceAccountName);
  if (!latest.serviceAccountId) {
    problems.push(`${at}: runs without a service account, expected ${fn.serviceAccountName}`);
  } else if (accountId !== undefined && latest.serviceAccountId !== accountId) {
    problems.push(
      `${at}: runs as ${latest.serviceAccountId}, expected ${fn.serviceAccountName} (${accountId})`,
    );
  }
  const stale = staleness(latest.createdAt, notBefore);
  if (stale !== undefined) problems.push(`${at}: ${stale}; this deploy did not create a new version`);
  return problems;
}

function checkTrigger(
  trigger: ExpectedTrigger,
  found: CloudTrigger,
  functionIds: ReadonlyMap<string, string>,
  accountIds: ReadonlyMap<string, string>,
  notBefore: string | undefined,
): string[] {
  const where = `trigger ${trigger.name}`;
  const problems: string[] = [];
  if (found.status !== undefined && found.status !== 'ACTIVE') {
    problems.push(`${where}: status ${found.status}, expected ACTIVE`);
  }
  let invoke: InvokeFunction | undefined;
  if (trigger.type === 'cron') {
    const timer = found.rule?.timer;
    if (timer === undefined) return [...problems, `${where}: is not a timer trigger`];
    if (timer.cronExpression !== trigger.cronExpression) {
      problems.push(`${where}: cron ${timer.cronExpression ?? '(none)'}, expected ${trigger.cronExpression}`);
    }
    invoke = timer.invokeFunctionWithRetry ?? timer.invokeFunction;
  } else {
    const queue = found.rule?.messageQueue;
    if (queue === undefined) return [...problems, `${where}: is not a Message Queue trigger`];
    if (queue.queueId !== trigger.queueId) {
      problems.push(`${where}: reads queue ${queue.queueId ?? '(none)'}, expected ${trigger.queueId}`);
    }
    const size = Number(queue.batchSettings?.size);
    if (size !== trigger.batchSize) {
      problems.push(
        `${where}: batch size ${queue.batchSettings?.size ?? '(none)'}, expected ${trigger.batchSize}`,
      );
    }
    const readerId = accountIds.get(trigger.queueAccountName);
    if (readerId !== undefined && queue.serviceAccountId !== readerId) {
      problems.push(
        `${where}: reads the queue as ${queue.serviceAccountId ?? '(none)'}, expected ${trigger.queueAccountName}`,
      );
    }
    invoke = queue.invokeFunction;
  }
  const functionId = functionIds.get(trigger.functionName);
  if (invoke === undefined) {
    problems.push(`${where}: invokes no function, expected ${trigger.functionName}`);
  } else {
    if (functionId !== undefined && invoke.functionId !== functionId) {
      problems.push(
        `${where}: invokes ${invoke.functionId ?? '(none)'}, expected ${trigger.functionName} (${functionId})`,
      );
    }
    const invokerId = accountIds.get(trigger.invokerAccountName);
    if (invokerId !== undefined && invoke.serviceAccountId !== invokerId) {
      problems.push(
        `${where}: invokes as ${invoke.serviceAccountId ?? '(none)'}, expected ${trigger.invokerAccountName}`,
      );
    }
  }
  const stale = staleness(found.createdAt, notBefore);
  if (stale !== undefined) problems.push(`${where}: ${stale}; this deploy did not recreate it`);
  return problems;
}

/** Seconds of a protobuf JSON duration (`"60s"`, `"1.5s"`), or NaN. */
function durationSeconds(value: string | undefined): number {
  const match = /^(\d+(?:\.\d+)?)s$/.exec(value ?? '');
  return match?.[1] === undefined ? Number.NaN : Number(match[1]);
}

function staleness(createdAt: string | undefined, notBefore: string | undefined): string | undefined {
  if (notBefore === undefined || createdAt === undefined) return undefined;
  const created = Date.parse(createdAt);
  const start = Date.parse(notBefore);
  if (Number.isNaN(created) || Number.isNaN(start) || created >= start) return undefined;
  return `created ${createdAt}, before the deploy started (${notBefore})`;
}
