// A run's timeline for the detail view: the record's own `events` (design.md §5) when it carries them,
// else the same story told by its timestamps (created, started, cancel requested, finished), so runs
// recorded before events existed still show one. Pure.

import type { RunView } from './run-types.ts';

export interface TimelineEntry {
  readonly at: string;
  /** What happened, in words ("cancel requested"). */
  readonly what: string;
  readonly detail?: string;
}

const byTime = (a: TimelineEntry, b: TimelineEntry) => Date.parse(a.at) - Date.parse(b.at);

export function timelineOf(run: RunView): readonly TimelineEntry[] {
  if (run.events !== undefined && run.events.length > 0) {
    return run.events
      .map((event) => ({
        at: event.at,
        what: event.type.replace(/-/g, ' '),
        ...(event.detail === undefined ? {} : { detail: event.detail }),
      }))
      .sort(byTime);
  }
  const entries: TimelineEntry[] = [];
  const created = [run.trigger === undefined ? '' : `by ${run.trigger}`, run.job ? `job ${run.job.name}` : '']
    .filter(Boolean)
    .join(', ');
  entries.push({ at: run.createdAt, what: 'created', ...(created === '' ? {} : { detail: created }) });
  if (run.startedAt !== undefined) {
    entries.push({
      at: run.startedAt,
      what: 'started',
      ...(run.operationId === undefined ? {} : { detail: `operation ${run.operationId}` }),
    });
  }
  if (run.cancelRequestedAt !== undefined) {
    entries.push({
      at: run.cancelRequestedAt,
      what: 'cancel requested',
      ...(run.cancelReason === undefined ? {} : { detail: `reason: ${run.cancelReason}` }),
    });
  }
  if (run.finishedAt !== undefined) {
    const outcome = [run.status, run.executionStatus].filter(Boolean).join(', execution ');
    entries.push({ at: run.finishedAt, what: 'finished', detail: outcome });
  }
  return entries.sort(byTime);
}
