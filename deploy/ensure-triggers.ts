/**
 * The four triggers, owned by the deploy (the plugin would delete and recreate them on every run,
 * and leave them missing when that fails: issue #15). A trigger is created when absent, replaced
 * only when it differs, and left alone otherwise, so a redeploy loses no tick. After creating, the
 * deploy lists the triggers again and recreates any that is still missing, so a failed creation
 * repairs itself within the same run.
 *
 * Names do not end in -cron/-ymq on purpose: the plugin deletes triggers named
 * `<function>-<type>` that serverless.yaml does not declare (src/deploy/deploy.ts @v1.7.5), which
 * also cleans up the triggers older deploys made.
 */
import { isNotFound, waitForOperation } from './cloud-http.ts';
import { deleteResource } from './delete-resource.ts';
import type { DeployContext } from './deploy-context.ts';
import type { DeployedFunction } from './ensure-functions.ts';
import { listInFolder } from './list-all.ts';
import type { FunctionKey, TriggerRole } from './stage-names.ts';

/** Every minute (6-field Yandex cron, UTC): the jobs tick and the sweep. */
export const EVERY_MINUTE = '* * ? * * *';
export const QUEUE_BATCH = { size: 10, cutoffSeconds: 10 } as const;

export interface TriggerSpec {
  readonly role: TriggerRole;
  readonly name: string;
  readonly functionKey: FunctionKey;
  readonly rule: Record<string, unknown>;
}

export interface TriggerInputs {
  readonly functions: readonly Pick<DeployedFunction, 'key' | 'id'>[];
  readonly invokerId: string;
  readonly runsArn: string;
  readonly cancelsArn: string;
}

/** The triggers as the Triggers API takes them (CreateTriggerRequest.rule). */
export function triggerSpecs(ctx: Pick<DeployContext, 'names'>, inputs: TriggerInputs): TriggerSpec[] {
  const idOf = (key: FunctionKey): string => {
    const id = inputs.functions.find((f) => f.key === key)?.id;
    if (id === undefined) throw new Error(`function ${key} has no id`);
    return id;
  };
  // No functionTag: the default is $latest, and a field the API might not echo would make every
  // comparison differ and every run replace the trigger.
  const invoke = (key: FunctionKey) => ({ functionId: idOf(key), serviceAccountId: inputs.invokerId });
  // No trigger-level retry on the timers: the next tick catches up missed minutes by itself.
  const timer = (key: FunctionKey) => ({
    timer: { cronExpression: EVERY_MINUTE, invokeFunctionWithRetry: invoke(key) },
  });
  const queue = (key: FunctionKey, queueId: string) => ({
    messageQueue: {
      queueId,
      serviceAccountId: inputs.invokerId,
      batchSettings: { size: String(QUEUE_BATCH.size), cutoff: `${QUEUE_BATCH.cutoffSeconds}s` },
      invokeFunction: invoke(key),
    },
  });
  const { triggers } = ctx.names;
  return [
    { role: 'jobs-tick', name: triggers['jobs-tick'], functionKey: 'execute', rule: timer('execute') },
    { role: 'sweep', name: triggers.sweep, functionKey: 'check', rule: timer('check') },
    {
      role: 'run-requests',
      name: triggers['run-requests'],
      functionKey: 'execute',
      rule: queue('execute', inputs.runsArn),
    },
    {
      role: 'cancel-requests',
      name: triggers['cancel-requests'],
      functionKey: 'cancel',
      rule: queue('cancel', inputs.cancelsArn),
    },
  ];
}

export interface CloudTrigger {
  readonly id: string;
  readonly name: string;
  readonly status?: string;
  readonly rule?: Record<string, unknown>;
}

export async function listTriggers(ctx: DeployContext): Promise<CloudTrigger[]> {
  return listInFolder<CloudTrigger>(ctx, `${ctx.endpoints.triggers}/triggers/v1/triggers`, 'triggers');
}

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether `actual` holds every field of `wanted` with the same value (numbers compared as text,
 * as int64 fields come back as strings). Extra fields the API adds are ignored.
 */
export function covers(actual: unknown, wanted: unknown): boolean {
  if (isPlain(wanted)) {
    if (!isPlain(actual)) return false;
    return Object.entries(wanted).every(([k, v]) => covers(actual[k], v));
  }
  if (actual === undefined) return wanted === '' || wanted === undefined;
  return String(actual) === String(wanted);
}

/** What is wrong with one trigger (`[]` = as wanted). */
export function triggerProblems(spec: TriggerSpec, found: CloudTrigger | undefined): string[] {
  if (found === undefined) return [`trigger ${spec.name}: missing`];
  const problems: string[] = [];
  if (found.status !== undefined && found.status !== 'ACTIVE')
    problems.push(`trigger ${spec.name}: status ${found.status}`);
  if (!covers(found.rule, spec.rule))
    problems.push(`trigger ${spec.name}: its rule differs from the wanted one`);
  return problems;
}

async function createTrigger(ctx: DeployContext, spec: TriggerSpec): Promise<void> {
  const answer = await ctx.http.call('POST', `${ctx.endpoints.triggers}/triggers/v1/triggers`, {
    folderId: ctx.folderId,
    name: spec.name,
    description: `datasphere-runner ${ctx.names.stage}: ${spec.role}`,
    rule: spec.rule,
  });
  await waitForOperation(ctx.http, answer, `creating trigger ${spec.name}`, ctx.wait);
  ctx.log(`created trigger ${spec.name}`);
}

export async function deleteTrigger(ctx: DeployContext, trigger: CloudTrigger): Promise<void> {
  try {
    await deleteResource(
      ctx,
      `${ctx.endpoints.triggers}/triggers/v1/triggers/${encodeURIComponent(trigger.id)}`,
      `trigger ${trigger.name}`,
    );
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** Rounds of create-then-list: a trigger still missing after the last round fails the deploy. */
const ROUNDS = 3;

/**
 * Creates absent triggers and replaces differing ones, then lists again and recreates any still
 * missing. Returns the problems left after the last round (`[]` = all four are there and right).
 */
export async function ensureTriggers(ctx: DeployContext, specs: readonly TriggerSpec[]): Promise<string[]> {
  let current = await listTriggers(ctx);
  let failures: string[] = [];
  for (let round = 1; round <= ROUNDS; round += 1) {
    failures = [];
    for (const spec of specs) {
      const found = current.find((t) => t.name === spec.name);
      if (triggerProblems(spec, found).length === 0) continue;
      try {
        if (found !== undefined) await deleteTrigger(ctx, found);
        await createTrigger(ctx, spec);
      } catch (error) {
        failures.push(`trigger ${spec.name}: ${error instanceof Error ? error.message : String(error)}`);
        ctx.log(`creating trigger ${spec.name} failed (round ${round} of ${ROUNDS}); will check and retry`);
      }
    }
    current = await listTriggers(ctx);
    const left = specs.flatMap((spec) =>
      triggerProblems(
        spec,
        current.find((t) => t.name === spec.name),
      ),
    );
    if (left.length === 0) return [];
    if (round < ROUNDS) await ctx.sleep(2_000 * round);
    else return [...left, ...failures];
  }
  return failures;
}
