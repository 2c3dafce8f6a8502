import type { LogLevelName } from './config.ts';
import { createRedactor, type Redactor } from './redact.ts';

/**
 * One JSON line per event, in the shape Yandex Cloud Logging parses as a structured log: `msg` and
 * `level` (TRACE/DEBUG/INFO/WARN/ERROR/FATAL) are lifted out, every other field lands in json-payload;
 * the line must be single-line and at most 64 KB. `request_id` lets Cloud Logging tell concurrent calls
 * of one instance apart.
 *
 * Secrets never reach a line: fields whose name says they hold a credential are replaced, and every
 * string goes through the instance's redactor: the secrets it holds are masked by value, IAM tokens
 * (`t1.…`), bearer headers and session tokens by shape.
 */

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

const RANK: Record<LogLevelName, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const MAX_LINE = 60 * 1024;
const SECRET_KEY = /(token|secret|password|authorization|credential|signature|api[-_]?key)/i;

/** Deep copy of `value` safe to log: secret-named fields replaced, strings scrubbed, errors flattened. */
export function redactValue(value: unknown, redactor: Redactor, depth = 0): unknown {
  if (depth > 8) return '[…]';
  if (typeof value === 'string') return redactor.text(value);
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' ? value.toString() : value;
  }
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: redactor.text(value.message) };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    const json = (value as { toJSON?: () => unknown }).toJSON;
    if (typeof json === 'function') Object.assign(out, redactValue(json.call(value), redactor, depth + 1));
    if (value.cause !== undefined) out.cause = redactValue(value.cause, redactor, depth + 1);
    return out;
  }
  if (Array.isArray(value)) return value.map((item) => redactValue(item, redactor, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] =
      SECRET_KEY.test(key) && typeof item === 'string'
        ? '[REDACTED]'
        : redactValue(item, redactor, depth + 1);
  }
  return out;
}

export interface LoggerOptions {
  readonly level?: LogLevelName;
  /** Where lines go; defaults to stdout. */
  readonly write?: (line: string) => void;
  readonly now?: () => Date;
  readonly fields?: LogFields;
  /** Masks the instance's secrets by value; @default one that knows none (shapes only). */
  readonly redactor?: Redactor;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const min = RANK[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const redactor = options.redactor ?? createRedactor();
  const make = (base: LogFields): Logger => {
    const emit = (level: LogLevelName, msg: string, fields?: LogFields) => {
      if (RANK[level] < min) return;
      const entry = {
        level: level.toUpperCase(),
        msg: redactor.text(msg),
        time: now().toISOString(),
        ...(redactValue({ ...base, ...fields }, redactor) as Record<string, unknown>),
      };
      let line = JSON.stringify(entry);
      if (line.length > MAX_LINE) {
        line = JSON.stringify({ level: entry.level, msg: entry.msg, time: entry.time, truncated: true });
      }
      write(line);
    };
    return {
      debug: (msg, fields) => emit('debug', msg, fields),
      info: (msg, fields) => emit('info', msg, fields),
      warn: (msg, fields) => emit('warn', msg, fields),
      error: (msg, fields) => emit('error', msg, fields),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make(options.fields ?? {});
}
