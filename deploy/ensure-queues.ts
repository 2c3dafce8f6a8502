/**
 * The stage's run-request and cancel-request queues and their shared dead-letter queue. A queue
 * trigger has no retry limit of its own: a message whose processing keeps failing comes back after
 * every visibility timeout until the queue's redrive policy moves it to the dead-letter queue after
 * `maxReceiveCount` receives (platform.md §8). So both request queues get a RedrivePolicy, and a
 * visibility timeout above their function's timeout (plus the trigger's batch cutoff).
 */
import type { DeployContext } from './deploy-context.ts';
import type { QueueRole } from './stage-names.ts';
import type { YmqAdmin } from './ymq-admin.ts';

export interface QueueSettings {
  readonly maxReceiveCount: number;
  /** Seconds; by queue. */
  readonly visibilityTimeout: Readonly<Record<'runs' | 'cancels', number>>;
}

/** 14 days, the most Message Queue keeps a message: time to look at what failed. */
const DEAD_LETTER_RETENTION_SECONDS = '1209600';

export interface StageQueues {
  readonly urls: Readonly<Record<QueueRole, string>>;
  /** `yrn:yc:ymq:ru-central1:<folder>:<name>`, what triggers and redrive policies take. */
  readonly arns: Readonly<Record<QueueRole, string>>;
}

/** What each queue's attributes must be (the redrive policy needs the dead-letter queue's ARN). */
export function wantedAttributes(
  role: QueueRole,
  settings: QueueSettings,
  deadLetterArn: string,
): Record<string, string> {
  if (role === 'dead-letters') return { MessageRetentionPeriod: DEAD_LETTER_RETENTION_SECONDS };
  return {
    VisibilityTimeout: String(settings.visibilityTimeout[role]),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: deadLetterArn,
      maxReceiveCount: settings.maxReceiveCount,
    }),
  };
}

/** Differences between wanted and actual attributes (RedrivePolicy compared as JSON). */
export function attributeDifferences(
  wanted: Readonly<Record<string, string>>,
  actual: Readonly<Record<string, string>>,
): string[] {
  return Object.entries(wanted)
    .filter(([name, value]) => {
      const seen = actual[name];
      if (name !== 'RedrivePolicy' || seen === undefined) return seen !== value;
      try {
        const a = JSON.parse(seen) as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
        const w = JSON.parse(value) as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
        return (
          a.deadLetterTargetArn !== w.deadLetterTargetArn ||
          Number(a.maxReceiveCount) !== Number(w.maxReceiveCount)
        );
      } catch {
        return true;
      }
    })
    .map(([name]) => name);
}

/** Creates the missing queues and corrects attributes that differ; the dead-letter queue first. */
export async function ensureQueues(
  ctx: DeployContext,
  ymq: YmqAdmin,
  settings: QueueSettings,
): Promise<StageQueues> {
  const urls = {} as Record<QueueRole, string>;
  const arns = {} as Record<QueueRole, string>;
  for (const role of ['dead-letters', 'runs', 'cancels'] as const) {
    const name = ctx.names.queues[role];
    const wanted = wantedAttributes(role, settings, arns['dead-letters'] ?? '');
    let url = await ymq.getQueueUrl(name);
    if (url === undefined) {
      url = await ymq.createQueue(name, wanted);
      ctx.log(`created queue ${name}`);
    }
    const actual = await ymq.getQueueAttributes(url);
    const differing = attributeDifferences(wanted, actual);
    if (differing.length > 0) {
      await ymq.setQueueAttributes(url, Object.fromEntries(differing.map((n) => [n, wanted[n] ?? ''])));
      ctx.log(`queue ${name}: set ${differing.join(', ')}`);
    }
    const arn = actual.QueueArn;
    if (arn === undefined || arn === '') throw new Error(`queue ${name}: no QueueArn attribute`);
    urls[role] = url;
    arns[role] = arn;
  }
  return { urls, arns };
}

/** Problems with the queues, and the ARNs of those that exist (read only). */
export async function queueProblems(
  ctx: DeployContext,
  ymq: YmqAdmin,
  settings: QueueSettings,
): Promise<{ problems: string[]; arns: Partial<Record<QueueRole, string>> }> {
  const problems: string[] = [];
  const arns: Partial<Record<QueueRole, string>> = {};
  let deadLetterArn = '';
  for (const role of ['dead-letters', 'runs', 'cancels'] as const) {
    const name = ctx.names.queues[role];
    const url = await ymq.getQueueUrl(name);
    if (url === undefined) {
      problems.push(`queue ${name}: missing`);
      continue;
    }
    const actual = await ymq.getQueueAttributes(url);
    if (role === 'dead-letters') deadLetterArn = actual.QueueArn ?? '';
    if (actual.QueueArn !== undefined) arns[role] = actual.QueueArn;
    const differing = attributeDifferences(wantedAttributes(role, settings, deadLetterArn), actual);
    if (differing.length > 0) problems.push(`queue ${name}: ${differing.join(', ')} not as wanted`);
  }
  return { problems, arns };
}
