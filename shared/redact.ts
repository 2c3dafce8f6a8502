/**
 * Masks credentials inside free text (error bodies, messages, log lines). Deliberately generous: a false
 * positive costs a less readable line, a false negative leaks a token.
 *
 * - IAM tokens: `t1.` + anything token-like (api.md §8; the prefix may change, so also `t2.`…`t9.`);
 * - Yandex OAuth tokens (`y0_…`…`y3_…`);
 * - the runner's own API keys (`dsr_…`, shared/auth/api-keys.ts);
 * - any `Bearer <x>` / `Basic <x>` / `Api-Key <x>` credential;
 * - JSON members and query/form parameters whose name says they hold a secret (`sessionToken`,
 *   `access_token`, `iamToken`, `jwt`, `private_key`, …), quoted or not.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(SECRET_MEMBER, (_match, prefix: string) => `${prefix}[REDACTED]"`)
    .replace(SECRET_PARAM, (_match, prefix: string) => `${prefix}[REDACTED]`)
    .replace(AUTH_SCHEME, (_match, scheme: string) => `${scheme} [REDACTED]`)
    .replace(IAM_TOKEN, (_match, prefix: string) => `${prefix}.[REDACTED]`)
    .replace(OAUTH_TOKEN, '[REDACTED]')
    .replace(RUNNER_API_KEY, '[REDACTED]');
}

const SECRET_NAMES =
  '(?:session[_-]?token|access[_-]?token|refresh[_-]?token|id[_-]?token|iam[_-]?token|token|' +
  'yandexPassportOauthToken|jwt|private[_-]?key|secret[_-]?access[_-]?key|secret|password)';

/** `"sessionToken": "…"` (JSON, with escapes inside the value). */
const SECRET_MEMBER = new RegExp(`("${SECRET_NAMES}"\\s*:\\s*")(?:[^"\\\\]|\\\\.)*"`, 'gi');
/** `sessionToken=…`, `access_token: …` outside JSON strings (query strings, forms, prose). */
const SECRET_PARAM = new RegExp(
  `(\\b${SECRET_NAMES}\\s*[=:]\\s*)(?!\\s|\\[REDACTED\\]|")[^\\s"'&,;}]+`,
  'gi',
);
const AUTH_SCHEME = /\b(Bearer|Basic|Api-Key)\s+(?!\[REDACTED\])[^\s"',;]+/gi;
const IAM_TOKEN = /\b(t[1-9])\.(?!\[REDACTED\])[A-Za-z0-9_.=-]+/g;
const OAUTH_TOKEN = /\by[0-3]_[A-Za-z0-9_-]{16,}/g;
const RUNNER_API_KEY = /\bdsr_[A-Za-z0-9_-]{16,}/g;

/** Shortest value hidden by value: shorter ones would mask ordinary words (they are refused as secrets elsewhere). */
export const MIN_SECRET_LENGTH = 4;
/** How many learned values (tokens obtained at run time) are kept; configured secrets are always kept. */
const MAX_LEARNED = 64;
const MASK = '[REDACTED]';
/** What the snippet helpers append where they cut a text. */
const ELLIPSIS = '…';
/** The shortest start of a secret masked where a text was cut. */
const MIN_CUT_PREFIX = 8;

/**
 * Hides the secrets a function instance holds, by VALUE, wherever text leaves the process or reaches the
 * ledger: an API that echoes a token back in a shape no pattern knows (`token X`, `'X'`, a JSON field)
 * must not carry it further. Created once per instance by the function runtime, knowing the configured
 * secrets; tokens are learned as they are obtained (a context token per invocation, metadata tokens).
 */
export interface Redactor {
  /** Hides `value` from now on (values shorter than MIN_SECRET_LENGTH are ignored). Returns `value`. */
  learn<T extends string | undefined>(value: T): T;
  /** Free text for people (log lines, messages): secret shapes and known values masked. */
  text(text: string): string;
  /** Known values masked, nothing else touched: for data whose other strings must stay as they are. */
  values(text: string): string;
  /**
   * Plain data (records, notifications, answers) with every string scrubbed by `values`: a copy where
   * something was masked, the same object (never changed) where nothing was. Keys, numbers and non-plain
   * objects (a Date) are kept as they are.
   */
  deep<T>(value: T): T;
  /** How many values are known (for tests and a cold-start log line; never the values). */
  readonly size: number;
}

/** The variants of a secret as it may appear in text: as is, inside a JSON string, URL-encoded. */
function variantsOf(secret: string): string[] {
  const variants = new Set([secret, JSON.stringify(secret).slice(1, -1)]);
  try {
    variants.add(encodeURIComponent(secret));
  } catch {
    // A lone surrogate cannot be URL-encoded; it cannot appear URL-encoded either.
  }
  return [...variants];
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function createRedactor(configured: Iterable<string | undefined> = []): Redactor {
  const fixed = new Set<string>();
  for (const value of configured) {
    if (value !== undefined && value.length >= MIN_SECRET_LENGTH) fixed.add(value);
  }
  // Insertion order is age: the oldest learned value is dropped first.
  const learned = new Set<string>();
  let pattern: RegExp | undefined;
  let stale = true;

  const current = (): RegExp | undefined => {
    if (stale) {
      const all = [...fixed, ...learned].flatMap(variantsOf);
      // Longest first, so a secret that contains another is masked whole.
      all.sort((a, b) => b.length - a.length);
      pattern = all.length === 0 ? undefined : new RegExp(all.map(escapeRegExp).join('|'), 'g');
      stale = false;
    }
    return pattern;
  };

  const values = (text: string): string => {
    const re = current();
    if (re === undefined || text.length < MIN_SECRET_LENGTH) return text;
    const masked = text.replace(re, MASK);
    return masked.includes(ELLIPSIS) ? maskCutSecrets(masked) : masked;
  };

  /**
   * A snippet cut off in the middle of a secret (`…t1.abcdef` → `…`) no longer contains the whole value:
   * mask a start of a secret (8+ characters) that ends right where the text was cut.
   */
  const maskCutSecrets = (text: string): string => {
    let out = '';
    let from = 0;
    for (let at = text.indexOf(ELLIPSIS); at !== -1; at = text.indexOf(ELLIPSIS, at + 1)) {
      let cut = 0;
      for (const secret of [...fixed, ...learned]) {
        for (let k = Math.min(secret.length - 1, at - from); k >= MIN_CUT_PREFIX && k > cut; k--) {
          if (text.startsWith(secret.slice(0, k), at - k)) {
            cut = k;
            break;
          }
        }
      }
      out += cut === 0 ? text.slice(from, at) : `${text.slice(from, at - cut)}${MASK}`;
      from = at;
    }
    return out + text.slice(from);
  };

  /**
   * Copy on write: a container is copied only when something inside it was masked, so a record with
   * nothing to hide (the common case: every write of a sweep) is scanned without allocating.
   */
  const deep = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return values(value);
    if (typeof value !== 'object' || value === null || depth > 32) return value;
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        const scrubbed = deep(item, depth + 1);
        if (scrubbed !== item) {
          copy ??= value.slice();
          copy[i] = scrubbed;
        }
      }
      return copy ?? value;
    }
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    let copy: Record<string, unknown> | undefined;
    for (const key of Object.keys(value)) {
      const item: unknown = (value as Record<string, unknown>)[key];
      const scrubbed = deep(item, depth + 1);
      if (scrubbed === item) continue;
      copy ??= copyOf(value as Record<string, unknown>);
      setOwn(copy, key, scrubbed);
    }
    return copy ?? value;
  };

  return {
    learn(value) {
      if (value === undefined || value.length < MIN_SECRET_LENGTH || fixed.has(value)) return value;
      if (learned.has(value)) {
        // Refresh its age: a token in use is not the one to forget.
        learned.delete(value);
        learned.add(value);
        return value;
      }
      learned.add(value);
      if (learned.size > MAX_LEARNED) {
        const [oldest] = learned;
        if (oldest !== undefined) learned.delete(oldest);
      }
      stale = true;
      return value;
    },
    // Values first: a shape rule could mask part of a secret and leave the rest unrecognisable.
    text: (text) => redactSecrets(values(text)),
    values,
    deep: <T>(value: T): T => deep(value, 0) as T,
    get size() {
      return fixed.size + learned.size;
    },
  };
}

/** A shallow copy of a plain object (an ordinary object, whatever the original's prototype). */
function copyOf(value: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) setOwn(copy, key, value[key]);
  return copy;
}

/** An own data property, also for a key named `__proto__` (which must stay a key, not set the prototype). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}
