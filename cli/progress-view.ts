/**
 * What a person (or a program) sees while the CLI waits for a run (`run --wait`, `watch`):
 * - on a terminal, one live status line redrawn in place (spinner, status, elapsed time, checks), and a
 *   permanent line each time the status changes;
 * - in a pipe or a CI log, one plain line per change, nothing redrawn;
 * - with `--json`, one JSON record per change (NDJSON), nothing else on stdout.
 * A retried run shows each attempt: an attempt that ended with its retry due says when the next one
 * starts, and the hop to the next attempt is one line (`attempt 1 FAILED (…); attempt 2 is run …`).
 */
import type { TextSink } from './cli-io.ts';
import { attemptOf, isFinal, type RemoteRun, retryDueAt, subjectOf } from './remote-run.ts';
import { elapsedMs, errorText, formatClock, formatDuration, formatTimeOfDay } from './run-format.ts';
import type { Style } from './terminal-style.ts';

export interface ProgressView {
  /** Redraw period for the spinner; undefined = nothing to redraw between checks. */
  readonly tickMs: number | undefined;
  /** A fresh answer (the first one too); `polls` = status reads so far. */
  update(run: RemoteRun, polls: number): void;
  /** Time passes: redraw the spinner and the elapsed time. */
  tick(): void;
  /** A status read failed and will be tried again. */
  problem(message: string): void;
  /** An attempt ended and its next attempt is due (`retryAt`): not the outcome; reads go on. */
  retryDue(run: RemoteRun, polls: number): void;
  /** The ended attempt `run` was followed by `nextRunId`, which is followed from now on. */
  nextAttempt(run: RemoteRun, nextRunId: string): void;
  /** The run is final: its outcome (for a retried run, its last attempt's). */
  finish(run: RemoteRun, polls: number): void;
  /** Waiting stopped (Ctrl-C); the run goes on. */
  stop(): void;
}

export interface ViewOptions {
  readonly out: TextSink;
  readonly style: Style;
  readonly now: () => Date;
  readonly json: boolean;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** What makes an answer worth a new line: the status and what a person reads next to it. */
const changeKey = (run: RemoteRun) =>
  [
    run.runId,
    run.status,
    run.operationId,
    run.executionStatus,
    run.cancelRequestedAt,
    run.error?.code,
    run.retryAt,
    run.retriedBy,
  ].join('|');

/** `checks 3`: the service's count of Operation.Get calls when the record has it, else our reads. */
const checksOf = (run: RemoteRun, polls: number) => (typeof run.checks === 'number' ? run.checks : polls);

export function createProgressView(options: ViewOptions): ProgressView {
  if (options.json) return jsonView(options);
  return options.out.isTTY === true ? liveView(options) : plainView(options);
}

function jsonView({ out }: ViewOptions): ProgressView {
  let last: string | undefined;
  const emit = (run: RemoteRun) => {
    const key = changeKey(run);
    if (key === last) return;
    last = key;
    out.write(`${JSON.stringify(run)}\n`);
  };
  return {
    tickMs: undefined,
    update: emit,
    tick: () => undefined,
    problem: () => undefined,
    retryDue: emit,
    // The record that names the next attempt is the hop.
    nextAttempt: emit,
    finish: emit,
    stop: () => undefined,
  };
}

/** `attempt 1 FAILED (EXECUTION_ERROR: …)`: how an attempt that is followed by another ended. */
function attemptEnding(run: RemoteRun): string {
  const error = errorText(run);
  return `attempt ${attemptOf(run)} ${run.status}${error === undefined ? '' : ` (${error})`}`;
}

/**
 * `in 58s`, `in 1m 05s`, or `now` once the time has come (the next sweep starts it): whole seconds,
 * rounded up, so a countdown never shows milliseconds.
 */
function untilText(iso: string, now: Date): string {
  const ms = Date.parse(iso) - now.getTime();
  if (Number.isNaN(ms)) return '';
  return ms <= 0 ? 'now' : `in ${formatDuration(Math.ceil(ms / 1000) * 1000)}`;
}

/** `attempt 2 is due at 12:05:00 (in 58s)`. */
function dueText(run: RemoteRun, now: Date): string {
  const at = retryDueAt(run) ?? '';
  const when = new Date(at);
  const time = Number.isNaN(when.getTime()) ? at : formatTimeOfDay(when);
  const rel = untilText(at, now);
  return `attempt ${attemptOf(run) + 1} is due at ${time}${rel === '' ? '' : ` (${rel})`}`;
}

/** After a retry was said to be due: it was stopped (a cancel, a replacement), so this is the outcome. */
const stoppedText = (run: RemoteRun) =>
  `attempt ${attemptOf(run) + 1} will not start: the retry was stopped${run.cancelReason === undefined ? '' : ` (${run.cancelReason})`}`;

/** The final line's mark: ✔ success, ■ cancelled, ✖ anything else. */
function mark(run: RemoteRun, style: Style): string {
  if (run.status === 'SUCCEEDED') return style.paint('green', '✔');
  if (run.status === 'CANCELLED') return style.paint('yellow', '■');
  return style.paint('red', '✖');
}

/** Lines that follow a final status: the error, and what the operation returned (e.g. a project URL). */
function endingLines(run: RemoteRun, style: Style): string[] {
  const lines: string[] = [];
  const error = errorText(run);
  if (error !== undefined && run.status !== 'SUCCEEDED') lines.push(`  error: ${style.paint('red', error)}`);
  for (const [key, value] of Object.entries(run.result ?? {})) lines.push(`  ${key}: ${String(value)}`);
  return lines;
}

function plainView({ out, style, now }: ViewOptions): ProgressView {
  let last: string | undefined;
  let failing = false;
  /** The run whose retry was last said to be due. */
  let dueOf: string | undefined;
  const line = (run: RemoteRun, polls: number) => {
    const elapsed = elapsedMs(run, now());
    const parts = [
      formatTimeOfDay(now()),
      `run ${run.runId}`,
      style.status(run.status),
      ...(elapsed === undefined ? [] : [`elapsed ${formatClock(elapsed)}`]),
      `checks ${checksOf(run, polls)}`,
    ];
    if (run.cancelRequestedAt !== undefined && !isFinal(run)) parts.push('(cancel requested)');
    out.write(`${parts.join('  ')}\n`);
  };
  /** The run's line when it reads differently from the last one; false when nothing changed. */
  const lineIfChanged = (run: RemoteRun, polls: number): boolean => {
    failing = false;
    const key = changeKey(run);
    if (key === last) return false;
    last = key;
    line(run, polls);
    return true;
  };
  return {
    tickMs: undefined,
    update(run, polls) {
      lineIfChanged(run, polls);
    },
    tick: () => undefined,
    problem(message) {
      // One line per streak of failures, not one per retry.
      if (failing) return;
      failing = true;
      out.write(`${formatTimeOfDay(now())}  ${message}; still trying\n`);
    },
    retryDue(run, polls) {
      if (!lineIfChanged(run, polls)) return;
      for (const extra of endingLines(run, style)) out.write(`${extra}\n`);
      out.write(`  ${dueText(run, now())}\n`);
      dueOf = run.runId;
    },
    nextAttempt(run, nextRunId) {
      failing = false;
      last = changeKey(run);
      out.write(
        `${formatTimeOfDay(now())}  ${attemptEnding(run)}; attempt ${attemptOf(run) + 1} is run ${nextRunId}\n`,
      );
    },
    finish(run, polls) {
      if (dueOf === run.runId) {
        // Its status and error are shown already: only what changed.
        out.write(`${formatTimeOfDay(now())}  run ${run.runId}: ${stoppedText(run)}\n`);
        return;
      }
      if (changeKey(run) !== last) line(run, polls);
      last = changeKey(run);
      for (const extra of endingLines(run, style)) out.write(`${extra}\n`);
    },
    stop: () => undefined,
  };
}

function liveView({ out, style, now }: ViewOptions): ProgressView {
  let current: RemoteRun | undefined;
  let polls = 0;
  let frame = 0;
  let problem: string | undefined;
  let lastStatus: string | undefined;
  let lastDue: string | undefined;
  let headed = false;
  let drawn = false;
  const width = () => Math.max(20, (out.columns || 80) - 1);
  const clear = () => {
    if (drawn) out.write('\r\x1b[2K');
    drawn = false;
  };
  // Cut by visible characters before colouring: a line wider than the terminal wraps, and then `\r`
  // no longer goes back to its start.
  const cutToWidth = (plain: string) => (plain.length > width() ? `${plain.slice(0, width() - 1)}…` : plain);
  /** Replaces the live line with `line`, whose first `headLength` characters (the spinner) are cyan. */
  const redraw = (line: string, headLength: number) => {
    out.write(`\r\x1b[2K${style.paint('cyan', line.slice(0, headLength))}${line.slice(headLength)}`);
    drawn = true;
  };
  /** `01:05 · checks 3`: the elapsed time (once the run has started) and the checks. */
  const timeFacts = (run: RemoteRun) => {
    const elapsed = elapsedMs(run, now());
    return [...(elapsed === undefined ? [] : [formatClock(elapsed)]), `checks ${checksOf(run, polls)}`];
  };
  const draw = () => {
    if (current === undefined) return;
    const head = `${SPINNER[frame % SPINNER.length]} `;
    const due = retryDueAt(current);
    const problems = problem === undefined ? [] : [`${problem}; retrying`];
    if (due !== undefined) {
      // Between two attempts: what comes next, and when.
      const rel = untilText(due, now());
      const plain = cutToWidth(
        [
          `${head}waiting for attempt ${attemptOf(current) + 1}`,
          ...(rel === '' ? [] : [`due ${rel}`]),
          ...problems,
        ].join(' · '),
      );
      redraw(plain, head.length);
      return;
    }
    const facts = [
      ...timeFacts(current),
      ...(current.cancelRequestedAt === undefined ? [] : ['cancel requested']),
      ...problems,
    ].join(' · ');
    const plain = cutToWidth(`${head}${current.status}  ${facts}`);
    const status = current.status;
    redraw(plain.replace(status, style.status(status)), head.length);
  };
  const header = (run: RemoteRun) => {
    if (headed) return;
    headed = true;
    const subject = subjectOf(run);
    const room = width() - run.runId.length - 6;
    const cut =
      subject.length <= room ? subject : `…${subject.slice(subject.length - Math.max(room, 1) + 1)}`;
    out.write(`run ${style.bold(run.runId)}  ${style.dim(cut)}\n`);
  };
  /** The permanent line of an ended attempt: its mark, status, time and checks, then its error. */
  const ending = (run: RemoteRun) => {
    clear();
    out.write(`${mark(run, style)} ${style.status(run.status)}  ${timeFacts(run).join(' · ')}\n`);
    for (const extra of endingLines(run, style)) out.write(`${extra}\n`);
  };
  return {
    tickMs: 100,
    update(run, count) {
      polls = count;
      problem = undefined;
      header(run);
      current = run;
      if (run.status !== lastStatus) {
        clear();
        out.write(`  ${style.dim(formatTimeOfDay(now()))} ${style.status(run.status)}\n`);
        lastStatus = run.status;
      }
      draw();
    },
    tick() {
      frame++;
      draw();
    },
    problem(message) {
      problem = message;
      draw();
    },
    retryDue(run, count) {
      polls = count;
      problem = undefined;
      header(run);
      current = run;
      const key = `${run.runId}|${retryDueAt(run)}`;
      if (key !== lastDue) {
        lastDue = key;
        ending(run);
        out.write(`  ${style.paint('yellow', '↻')} ${dueText(run, now())}\n`);
      }
      draw();
    },
    nextAttempt(run, nextRunId) {
      header(run);
      clear();
      out.write(
        `  ${style.dim(formatTimeOfDay(now()))} ${attemptEnding(run)}; attempt ${attemptOf(run) + 1} is run ${style.bold(nextRunId)}\n`,
      );
      // The next attempt's statuses are lines of their own again; nothing to redraw until it is read.
      current = undefined;
      lastStatus = undefined;
      problem = undefined;
    },
    finish(run, count) {
      header(run);
      const wasDue =
        current !== undefined && current.runId === run.runId && retryDueAt(current) !== undefined;
      current = run;
      polls = count;
      if (wasDue) {
        clear();
        out.write(`${mark(run, style)} ${style.status(run.status)}  ${stoppedText(run)}\n`);
        return;
      }
      ending(run);
    },
    stop() {
      clear();
    },
  };
}
