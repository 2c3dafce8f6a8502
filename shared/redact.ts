/**
 * Masks credentials inside free text (error bodies, messages, log lines). Deliberately generous: a false
 * positive costs a less readable line, a false negative leaks a token.
 *
 * - IAM tokens: `t1.` + anything token-like (api.md §8; the prefix may change, so also `t2.`…`t9.`);
 * - Yandex OAuth tokens (`y0_…`…`y3_…`);
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
    .replace(OAUTH_TOKEN, '[REDACTED]');
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
