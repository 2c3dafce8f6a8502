import { RunnerError } from '../errors.ts';

/** Facts attached to a NOTIFY_ERROR (all safe to log). */
export interface NotifyErrorFacts {
  /** Destination name: `webhook`, `queue`. */
  readonly destination: string;
  /** What was addressed, without query string or credentials: `hooks.example.com/runner`. */
  readonly target: string;
  readonly attempts: number;
  readonly httpStatus?: number | undefined;
  /** Network error code (ECONNRESET…) or the service's error code (AWS.SimpleQueueService.NonExistentQueue…). */
  readonly errorCode?: string | undefined;
  readonly requestId?: string | undefined;
  /** Whether a later attempt (a later sweep) may succeed. */
  readonly retryable: boolean;
}

/**
 * A RunnerError `NOTIFY_ERROR`: `<destination> <target>: <problem> (after N attempts)`. Callers pass
 * `problem` already scrubbed of secrets; the message is stored on the run record and logged.
 */
export function notifyError(facts: NotifyErrorFacts, problem: string, cause?: unknown): RunnerError {
  const tries = facts.attempts > 1 ? ` (after ${facts.attempts} attempts)` : '';
  const details = Object.fromEntries(Object.entries(facts).filter(([, value]) => value !== undefined));
  return new RunnerError('NOTIFY_ERROR', `${facts.destination} ${facts.target}: ${problem}${tries}`, {
    details,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Replaces every occurrence of each secret (of 4+ characters) in `text` with `[REDACTED]`. */
export function scrub(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret !== undefined && secret.length >= 4) out = out.split(secret).join('[REDACTED]');
  }
  return out;
}

/** One line of at most `max` characters from a response body, for an error message. */
export function snippet(text: string, max = 160): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** `http://host:port/path` → `host:port/path` (no scheme, credentials, query or fragment). */
export function describeUrl(url: URL): string {
  return `${url.host}${url.pathname}`;
}
