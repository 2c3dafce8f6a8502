/**
 * The console of `npm start`: every line the local chain produces (the functions' JSON log lines, the
 * emulator's request lines, the platform's trigger notes, the webhook receiver) as one readable line
 * with its time and level word, e.g.
 *
 *   08:33:43.658 INFO  execute   run e9fa6f00-… STARTING → RUNNING  p nb.ipynb (http)
 *   08:33:43.701 WARN  execute   request failed  code=INVALID_REQUEST status=400 error.field=notebookId …
 *
 * Nested fields are flattened (`error.message=…`), so a refused start says why. Lines below the
 * chosen level are left out: the emulator's request lines are debug. A run's status changes get a line
 * of their own that a person can follow, and a queue message is tied to the run it started.
 */
import { styleText } from 'node:util';
import { LOG_LEVELS, type LogLevelName } from '../shared/config.ts';
import { dedupeKeyOf, runIdFor } from '../shared/core/run-identity.ts';
import { parseRunRequestJson } from '../shared/triggers/run-request.ts';

/** The functions' LOG_LEVEL values, least to most severe: `--log-level` sets the console's and theirs. */
export const CONSOLE_LEVELS = LOG_LEVELS;
export type ConsoleLevel = LogLevelName;

export interface ConsoleOptions {
  readonly level: ConsoleLevel;
  readonly write: (line: string) => void;
  readonly colour: boolean;
  readonly now?: () => Date;
}

export interface LocalConsole {
  /** A line of the local chain itself. */
  say(level: ConsoleLevel, source: string, msg: string, fields?: Readonly<Record<string, unknown>>): void;
  /** A line a function (or the platform, in the same JSON shape) wrote. */
  functionLine(source: string, line: string): void;
  /** A request line of the DataSphere emulator. */
  emulatorLine(line: string): void;
  /** A message was put on a local queue: its run is named once the function has handled it. */
  queued(queue: 'execute' | 'cancel', messageId: string, body: string): void;
  /** Whether lines of `level` are shown. */
  shows(level: ConsoleLevel): boolean;
}

/** Fields that are the line's frame, not its content. */
const FRAME = new Set(['level', 'msg', 'time', 'request_id']);
/** Most entries remembered while waiting for a queued message's run (a bound, not a target). */
const MAX_PENDING = 1000;

const pad2 = (n: number) => String(n).padStart(2, '0');
function clock(d: Date): string {
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function levelOf(value: unknown): ConsoleLevel {
  const word = String(value ?? 'info').toLowerCase();
  if (word === 'warning') return 'warn';
  if (word === 'fatal') return 'error';
  if (word === 'trace') return 'debug';
  return (CONSOLE_LEVELS as readonly string[]).includes(word) ? (word as ConsoleLevel) : 'info';
}

/** `key=value` text of one value: bare when plain, JSON-quoted when it has spaces or quotes. */
function show(value: unknown): string {
  if (typeof value === 'string') {
    const cut = value.length > 300 ? `${value.slice(0, 300)}…` : value;
    return /^[^\s"=]+$/.test(cut) ? cut : JSON.stringify(cut);
  }
  return String(value);
}

/** `{error: {code, message}}` as `error.code=… error.message=…`; arrays as `key[0].…`. */
export function flattenFields(fields: Readonly<Record<string, unknown>>, prefix = '', depth = 0): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null || value === '') continue;
    const name = prefix === '' ? key : `${prefix}.${key}`;
    if (typeof value === 'object') {
      if (depth >= 4) {
        out.push(`${name}=${show(JSON.stringify(value))}`);
      } else if (Array.isArray(value)) {
        value.forEach((item, i) => {
          if (typeof item === 'object' && item !== null) {
            out.push(...flattenFields(item as Record<string, unknown>, `${name}[${i}]`, depth + 1));
          } else out.push(`${name}[${i}]=${show(item)}`);
        });
      } else {
        out.push(...flattenFields(value as Record<string, unknown>, name, depth + 1));
      }
      continue;
    }
    out.push(`${name}=${show(value)}`);
  }
  return out;
}

/**
 * A sweep that found nothing to finish and nothing failing says so every tick: at info it would bury
 * the lines about runs, so the console shows it at debug.
 */
function quiet(msg: string, entry: Readonly<Record<string, unknown>>): boolean {
  return msg === 'sweep done' && !entry.finished && !entry.failures && levelOf(entry.level) === 'info';
}

export function createLocalConsole(options: ConsoleOptions): LocalConsole {
  const now = options.now ?? (() => new Date());
  const paint = (format: Parameters<typeof styleText>[0], text: string) =>
    options.colour ? styleText(format, text) : text;
  const LEVEL_FORMAT: Record<ConsoleLevel, Parameters<typeof styleText>[0]> = {
    debug: 'gray',
    info: 'green',
    warn: 'yellow',
    error: 'red',
  };
  const STATUS_FORMAT: Record<string, Parameters<typeof styleText>[0]> = {
    SUCCEEDED: 'green',
    FAILED: 'red',
    TIMED_OUT: 'red',
    CANCELLED: 'yellow',
    RUNNING: 'cyan',
  };
  const status = (s: unknown) => paint(STATUS_FORMAT[String(s)] ?? 'blue', String(s));
  const least = CONSOLE_LEVELS.indexOf(options.level);
  const shows = (level: ConsoleLevel) => CONSOLE_LEVELS.indexOf(level) >= least;

  const emit = (level: ConsoleLevel, source: string, text: string, at?: Date) => {
    if (!shows(level)) return;
    const time = clock(at ?? now());
    options.write(
      `${paint('gray', time)} ${paint(LEVEL_FORMAT[level], level.toUpperCase().padEnd(5))} ${paint('gray', source.padEnd(9))} ${text}`,
    );
  };

  /** runId → the queue message that should start (or cancel) it. */
  const pending = new Map<string, string>();
  const remember = (runId: string, messageId: string) => {
    if (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value ?? '');
    pending.set(runId, messageId);
  };

  const say: LocalConsole['say'] = (level, source, msg, fields = {}) => {
    emit(level, source, [msg, ...flattenFields(fields)].join('  '));
  };

  /** A human line for the messages about a run's life; undefined for every other message. */
  const runLine = (msg: string, f: Record<string, unknown>): string | undefined => {
    const id = typeof f.runId === 'string' ? f.runId : undefined;
    if (id === undefined) return undefined;
    // An open or activate run has no notebook: its action says what it does.
    const what = [f.projectId, f.notebookId ?? f.action].filter((x) => typeof x === 'string').join(' ');
    const origin =
      typeof f.job === 'string' ? `job ${f.job}` : typeof f.trigger === 'string' ? f.trigger : '';
    const about = [what, origin === '' ? '' : `(${origin})`].filter((x) => x !== '').join(' ');
    if (msg === 'run status changed') {
      const error = flattenFields({ executionStatus: f.executionStatus, error: f.error }).join('  ');
      return [`run ${id}  ${status(f.previousStatus ?? '?')} → ${status(f.status)}`, about, error]
        .filter((x) => x !== '')
        .join('  ');
    }
    if (msg === 'run claimed') return `run ${id}  new, ${status(f.status)}  ${about}`;
    if (msg === 'run finished') {
      const took = typeof f.durationSeconds === 'number' ? ` after ${f.durationSeconds} s` : '';
      const checks = typeof f.checks === 'number' ? `, ${f.checks} check${f.checks === 1 ? '' : 's'}` : '';
      return `run ${id}  finished ${status(f.status)}${took}${checks}: reported`;
    }
    return undefined;
  };

  /** Ties a queue message to its run, once the function says what it did with it. */
  const queueNote = (msg: string, f: Record<string, unknown>) => {
    const runId = typeof f.runId === 'string' ? f.runId : undefined;
    if (runId !== undefined && (msg === 'start handled' || msg === 'cancel handled')) {
      const messageId = pending.get(runId);
      if (messageId === undefined) return;
      pending.delete(runId);
      const verb = msg === 'start handled' ? `${String(f.outcome ?? 'handled')} run` : 'cancel sent to run';
      say('info', 'queue', `message ${messageId}: ${verb} ${runId} (${String(f.status ?? '?')})`);
    }
    if (typeof f.messageId === 'string' && /message dropped/.test(msg)) {
      for (const [runId, messageId] of pending) if (messageId === f.messageId) pending.delete(runId);
    }
  };

  return {
    shows,
    say,
    functionLine(source, line) {
      const name = source.replace(/!$/, '');
      let entry: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
          throw new Error('not a log line');
        entry = parsed as Record<string, unknown>;
      } catch {
        // Not a JSON log line: stderr of a function is a warning (node's own warnings, a crash).
        emit(source.endsWith('!') ? 'warn' : 'info', name, line);
        return;
      }
      const msg = String(entry.msg ?? '');
      const level = quiet(msg, entry) ? 'debug' : levelOf(entry.level);
      const at =
        typeof entry.time === 'string' && !Number.isNaN(Date.parse(entry.time))
          ? new Date(entry.time)
          : undefined;
      const fields = Object.fromEntries(Object.entries(entry).filter(([key]) => !FRAME.has(key)));
      // The record a "run finished" line carries repeats the top-level fields: shown only at debug.
      if (typeof fields.runId === 'string' && !shows('debug')) delete fields.run;
      const human = runLine(msg, fields);
      if (human !== undefined) emit(level, name, human, at);
      else emit(level, name, [msg, ...flattenFields(fields)].join('  '), at);
      queueNote(msg, fields);
    },
    emulatorLine(line) {
      emit(/^emulator error/.test(line) ? 'error' : 'debug', 'emulator', line);
    },
    queued(queue, messageId, body) {
      let runId: string | undefined;
      try {
        if (queue === 'execute') {
          const { idempotencyKey } = parseRunRequestJson(body, 'body');
          runId = runIdFor(
            dedupeKeyOf(
              idempotencyKey === undefined
                ? { kind: 'queue', messageId }
                : { kind: 'key', key: idempotencyKey },
            ),
          );
        } else {
          const value = JSON.parse(body) as { runId?: unknown };
          if (typeof value.runId === 'string') runId = value.runId;
        }
      } catch {
        // An invalid message: the function will drop it and say why.
      }
      if (runId !== undefined) remember(runId, messageId);
      say('info', 'queue', `message ${messageId} queued for ${queue}`);
    },
  };
}
