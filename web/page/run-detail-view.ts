// One run in full: its fields, its error, its result and its timeline.

import { h } from './element-builder.ts';
import { attemptText, retryText } from './run-attempts.ts';
import { durationText, statusBadge } from './run-list-view.ts';
import { timelineOf } from './run-timeline.ts';
import type { RunView } from './run-types.ts';
import { localTime } from './time-format.ts';

function field(name: string, value: string | Node | undefined): Node[] {
  if (value === undefined || value === '') return [];
  return [h('dt', {}, name), h('dd', {}, value)];
}

export function runDetail(run: RunView, now: number): HTMLElement {
  const execution = run.executionStatus === undefined ? undefined : run.executionStatus;
  const fields = h(
    'dl',
    {},
    ...field('Status', statusBadge(run.status)),
    ...field('Run id', h('span', { class: 'mono' }, run.runId)),
    ...field(
      'Operation',
      run.operationId === undefined ? undefined : h('span', { class: 'mono' }, run.operationId),
    ),
    ...field('Project', run.projectId),
    ...field('Notebook', run.notebookId),
    ...field(
      'Job',
      run.job ? `${run.job.name}${run.job.slot ? ` (slot ${localTime(run.job.slot)})` : ''}` : undefined,
    ),
    ...field('Action', run.action),
    ...field('Trigger', run.trigger),
    ...field('Attempt', attemptText(run)),
    ...field('Retry', retryText(run)),
    ...field(
      'Next attempt',
      run.retriedBy === undefined ? undefined : h('span', { class: 'mono' }, run.retriedBy),
    ),
    ...field('Execution', execution),
    ...field('Created', localTime(run.createdAt)),
    ...field('Started', localTime(run.startedAt)),
    ...field('Finished', localTime(run.finishedAt)),
    ...field('Deadline', localTime(run.deadline)),
    ...field('Duration', durationText(run, now)),
  );
  const error =
    run.error === undefined
      ? undefined
      : h(
          'div',
          { class: 'box error', 'data-part': 'error' },
          h('strong', {}, `Error ${run.error.code}`),
          h('div', {}, run.error.message),
        );
  const resultEntries = Object.entries(run.result ?? {});
  const result =
    resultEntries.length === 0
      ? undefined
      : h(
          'div',
          { class: 'box', 'data-part': 'result' },
          h('strong', {}, 'Result'),
          h('dl', {}, ...resultEntries.flatMap(([key, value]) => field(key, String(value)))),
        );
  const timeline = h(
    'ol',
    { class: 'timeline', 'data-part': 'timeline' },
    ...timelineOf(run).map((entry) =>
      h(
        'li',
        {},
        h('time', { datetime: entry.at }, localTime(entry.at)),
        h('strong', {}, entry.what),
        entry.detail === undefined ? undefined : ` — ${entry.detail}`,
      ),
    ),
  );
  return h('div', {}, fields, error, result, h('h3', { class: 'small muted' }, 'Timeline'), timeline);
}
