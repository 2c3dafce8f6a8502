/**
 * How runs read in a terminal: one run as a block of labelled lines (`status`), many as a table
 * (`list`), durations and times in a form a person scans quickly. Times are local; the ISO form is in
 * `--json`.
 */
import { attemptOf, isFinal, nextAttemptId, type RemoteRun, retryDueAt } from './remote-run.ts';
import type { Style } from './terminal-style.ts';

/** `0:42`, `12:05`, `1:02:05`: a stopwatch, for elapsed time on a live line. */
export function formatClock(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** `850ms`, `42s`, `3m 05s`, `2h 04m`, `3d 4h`: how long something took. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const total = Math.floor(ms / 1000);
  if (total < 60) return `${total}s`;
  const m = Math.floor(total / 60);
  if (m < 60) return `${m}m ${String(total % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Local `YYYY-MM-DD HH:MM:SS`; an unparseable value is shown as it is. */
export function formatTime(iso: string | undefined): string {
  if (iso === undefined) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${formatTimeOfDay(d)}`;
}

/** Local `HH:MM:SS`. */
export function formatTimeOfDay(d: Date): string {
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** `in 3m 05s` / `5m 02s ago`. */
export function relative(iso: string | undefined, now: Date): string {
  if (iso === undefined) return '';
  const delta = Date.parse(iso) - now.getTime();
  if (Number.isNaN(delta)) return '';
  return delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
}

const ms = (iso: string | undefined): number | undefined => {
  if (iso === undefined) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
};

/** How long the run has taken: to its end when finished, else until `now`. */
export function elapsedMs(run: RemoteRun, now: Date): number | undefined {
  const from = ms(run.createdAt);
  if (from === undefined) return undefined;
  const to = isFinal(run) ? (ms(run.finishedAt) ?? ms(run.updatedAt) ?? now.getTime()) : now.getTime();
  return Math.max(0, to - from);
}

/** `13: Notebook cell 4 raised ValueError` from a run's `error`. */
export function errorText(run: RemoteRun): string | undefined {
  if (run.error === undefined) return undefined;
  const { code, message } = run.error;
  if (code === undefined) return message;
  return message === undefined ? String(code) : `${code}: ${message}`;
}

/** One run as labelled lines (the `status` command). */
export function runDetails(run: RemoteRun, style: Style, now: Date): string[] {
  const rows: [string, string][] = [];
  const add = (label: string, value: string | undefined) => {
    if (value !== undefined && value !== '') rows.push([label, value]);
  };
  add('run', run.runId);
  const execution =
    run.executionStatus === undefined ? '' : style.dim(` (executionStatus ${run.executionStatus})`);
  add('status', `${style.status(run.status)}${execution}`);
  if (run.action !== undefined && run.action !== 'execute') add('action', run.action);
  add('project', run.projectId);
  add('notebook', run.notebookId);
  const trigger =
    run.job?.name === undefined
      ? run.trigger
      : `${run.trigger ?? 'schedule'} (job ${run.job.name}, slot ${formatTime(run.job.slot)})`;
  add('trigger', trigger);
  add('operation', run.operationId);
  if (run.attempt !== undefined) {
    const before = Array.isArray(run.attempts) ? run.attempts.at(-1) : undefined;
    add('attempt', `${run.attempt}${typeof before === 'string' ? style.dim(`  after run ${before}`) : ''}`);
  }
  add('created', withRelative(run.createdAt, now));
  add('started', formatTime(run.startedAt));
  if (run.finishedAt !== undefined) {
    const took = elapsedMs(run, now);
    add(
      'finished',
      `${formatTime(run.finishedAt)}${took === undefined ? '' : style.dim(`  took ${formatDuration(took)}`)}`,
    );
  } else {
    const took = elapsedMs(run, now);
    if (took !== undefined) add('elapsed', formatDuration(took));
  }
  if (!isFinal(run)) add('deadline', withRelative(run.deadline, now));
  if (run.cancelRequestedAt !== undefined) {
    add(
      'cancel',
      `requested ${formatTime(run.cancelRequestedAt)}${run.cancelReason ? ` (${run.cancelReason})` : ''}`,
    );
  }
  if (typeof run.checks === 'number') add('checks', String(run.checks));
  const error = errorText(run);
  if (error !== undefined) add('error', style.paint('red', error));
  // What follows this attempt: its status is the run's outcome only when nothing does.
  const due = retryDueAt(run);
  if (due !== undefined) add('retry', `attempt ${attemptOf(run) + 1} due ${withRelative(due, now)}`);
  const next = nextAttemptId(run);
  if (next !== undefined) add('next', `attempt ${attemptOf(run) + 1} is run ${next}`);
  for (const [key, value] of Object.entries(run.result ?? {})) add(key, String(value));
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows.map(([label, value]) => `${style.dim(label.padEnd(width))}${value}`);
}

/** `1`, `1 (retried)`, `1 (retry 12:05:00)`: the list's ATTEMPT cell. */
function attemptCell(run: RemoteRun): string {
  if (typeof run.attempt !== 'number') return '';
  const due = retryDueAt(run);
  if (due !== undefined) {
    const at = new Date(due);
    return `${run.attempt} (retry ${Number.isNaN(at.getTime()) ? due : formatTimeOfDay(at)})`;
  }
  return nextAttemptId(run) === undefined ? String(run.attempt) : `${run.attempt} (retried)`;
}

function withRelative(iso: string | undefined, now: Date): string {
  if (iso === undefined) return '';
  const rel = relative(iso, now);
  return rel === '' ? formatTime(iso) : `${formatTime(iso)} (${rel})`;
}

/**
 * Runs as an aligned table, newest first as the service answers. On a terminal the last column
 * (the notebook) is cut to the width; in a pipe nothing is cut.
 */
export function runsTable(runs: readonly RemoteRun[], style: Style, now: Date, width?: number): string[] {
  // Retried runs: their attempt, and whether another follows (only when the page has any).
  const attempts = runs.some((run) => typeof run.attempt === 'number');
  const header = [
    'RUN',
    'STATUS',
    ...(attempts ? ['ATTEMPT'] : []),
    'CREATED',
    'TOOK',
    'TRIGGER',
    'PROJECT',
    'NOTEBOOK',
  ];
  const rows = runs.map((run) => {
    const took = elapsedMs(run, now);
    const trigger = run.job?.name === undefined ? (run.trigger ?? '') : `job ${run.job.name}`;
    const what = run.notebookId ?? (run.action === undefined ? '' : `(${run.action})`);
    return [
      run.runId,
      run.status,
      ...(attempts ? [attemptCell(run)] : []),
      formatTime(run.createdAt),
      took === undefined ? '' : `${formatDuration(took)}${isFinal(run) ? '' : '…'}`,
      trigger,
      run.projectId ?? '',
      what,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[], paint: (i: number, cell: string) => string) =>
    cells
      .map((cell, i) => {
        const padded = i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0);
        return paint(i, padded);
      })
      .join('  ');
  const cutToWidth = (text: string, cells: readonly string[]) => {
    if (width === undefined) return text;
    const used = widths.slice(0, -1).reduce((sum, w) => sum + w + 2, 0);
    const room = Math.max(10, width - used);
    const last = cells[cells.length - 1] ?? '';
    if (last.length <= room) return text;
    // Keep the end of a path: the notebook's file name is the part people recognise.
    return `${text.slice(0, text.length - last.length)}…${last.slice(last.length - room + 1)}`;
  };
  const out = [style.dim(line(header, (_i, cell) => cell))];
  for (const row of rows) {
    const plain = cutToWidth(
      line(row, (_i, cell) => cell),
      row,
    );
    // Colour after cutting, so escape codes never count against the width.
    const status = row[1] ?? '';
    const at = (widths[0] ?? 0) + 2;
    out.push(plain.slice(0, at) + style.status(status) + plain.slice(at + status.length));
  }
  return out;
}
