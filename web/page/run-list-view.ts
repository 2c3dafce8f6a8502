// The runs table: one row per run, newest first, each row opening the run's detail (click or Enter).

import { h } from './element-builder.ts';
import { retryPending, retryText } from './run-attempts.ts';
import { durationMs, formatDuration } from './run-stats.ts';
import { isActive, signOf, statusWords } from './run-status.ts';
import type { RunView } from './run-types.ts';
import { ago, localTime } from './time-format.ts';

/** The status as a sign and a word (never colour alone); the colour comes from the class. */
export function statusBadge(status: string): HTMLElement {
  return h(
    'span',
    { class: `status st-${status}`, title: statusWords(status) },
    h('span', { class: 'sign', 'aria-hidden': 'true' }, signOf(status)),
    status,
  );
}

/** Finished: how long it took. Active: how long so far, marked as still going. */
export function durationText(run: RunView, now: number): string {
  const done = durationMs(run);
  if (done !== undefined) return formatDuration(done);
  if (isActive(run.status)) {
    const since = Date.parse(run.startedAt ?? run.createdAt);
    return Number.isFinite(since) ? `${formatDuration(Math.max(0, now - since))} so far` : '';
  }
  return '';
}

export function runRow(run: RunView, now: number, open: (runId: string) => void): HTMLTableRowElement {
  const action = run.action !== undefined && run.action !== 'execute' ? ` · ${run.action}` : '';
  const row = h(
    'tr',
    { tabindex: 0, 'data-run-id': run.runId, 'data-status': run.status },
    h(
      'td',
      {},
      statusBadge(run.status),
      // A FAILED attempt with a retry to come is not the run's outcome: say so where the status is.
      retryPending(run) ? h('div', { class: 'small muted' }, `retry: ${retryText(run)}`) : undefined,
    ),
    h('td', { class: 'mono', title: run.runId }, run.runId.slice(0, 8)),
    h('td', {}, run.projectId),
    h(
      'td',
      {},
      run.notebookId ?? '',
      run.job ? h('div', { class: 'small muted' }, `job ${run.job.name}`) : undefined,
    ),
    h('td', {}, `${run.trigger ?? ''}${action}`),
    h(
      'td',
      { title: run.createdAt },
      localTime(run.createdAt),
      h('div', { class: 'small muted' }, ago(run.createdAt, now)),
    ),
    h('td', { class: 'num' }, durationText(run, now)),
  );
  row.addEventListener('click', () => open(run.runId));
  row.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') open(run.runId);
  });
  return row;
}
