import { MAX_RUN_EVENTS, type RunEvent, type RunRecord } from './run-record.ts';

/**
 * The run timeline (`events`, design.md §5): a short, bounded list of what happened to a run and when.
 * An event is appended by the very compare-and-set write that makes the change it records (claim,
 * start, cancel request, ending, report, retry), so the timeline costs no ledger write of its own and
 * can never say something the record does not.
 */

/** Longest `detail` kept: a status, a reason or a runId, never a message body. */
export const MAX_EVENT_DETAIL = 120;

/**
 * `record` with one more timeline entry. When the list is full the oldest entries are dropped first,
 * except the first `claimed`, which says when the run began.
 */
export function withEvent(record: RunRecord, type: RunEvent['type'], now: Date, detail?: string): RunRecord {
  const event: RunEvent = {
    at: now.toISOString(),
    type,
    ...(detail === undefined || detail === '' ? {} : { detail: detail.slice(0, MAX_EVENT_DETAIL) }),
  };
  return { ...record, events: boundEvents([...(record.events ?? []), event]) };
}

/** The last MAX_RUN_EVENTS entries, keeping the first `claimed` in front when it would fall out. */
export function boundEvents(events: readonly RunEvent[]): readonly RunEvent[] {
  if (events.length <= MAX_RUN_EVENTS) return events;
  const claimed = events.findIndex((event) => event.type === 'claimed');
  if (claimed === -1 || claimed >= events.length - MAX_RUN_EVENTS) return events.slice(-MAX_RUN_EVENTS);
  return [events[claimed] as RunEvent, ...events.slice(-(MAX_RUN_EVENTS - 1))];
}

/** Whether the timeline already has an entry of `type` (to record a transition once per run). */
export function hasEvent(record: RunRecord, type: RunEvent['type']): boolean {
  return record.events?.some((event) => event.type === type) === true;
}
