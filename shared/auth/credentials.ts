import { RunnerError } from '../errors.ts';
import { API_KEY_SHAPE } from './api-keys.ts';

/** What a caller presented through the API Gateway (design.md §8). */
export type Credential =
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'key'; readonly key: string };

/** An IAM token as it may travel in a header: visible ASCII, no spaces; real ones are a few hundred bytes. */
const TOKEN_SHAPE = /^[\x21-\x7e]{8,8192}$/;
const BEARER = /^Bearer[ \t]+(\S+)$/i;

/** A 401 for a call without usable credentials; `field` names the header at fault. */
export function unauthenticated(message: string, field?: string): RunnerError {
  return new RunnerError('UNAUTHENTICATED', message, field === undefined ? {} : { details: { field } });
}

/**
 * The credential of a gateway call: `X-Api-Key: <key>`, else `Authorization: Bearer <IAM token>`. When
 * both are sent (a shell with YC_IAM_TOKEN exported and a key configured) the key is used: it is decided
 * locally, and a wrong key is refused rather than silently replaced by the token. Throws UNAUTHENTICATED
 * naming what to send; the message never quotes the credential.
 */
export function readCredential(header: (name: string) => string | undefined): Credential {
  const key = header('X-Api-Key')?.trim();
  if (key !== undefined && key !== '') {
    if (!API_KEY_SHAPE.test(key)) {
      throw unauthenticated('X-Api-Key: is not an API key (16..256 visible ASCII characters)', 'X-Api-Key');
    }
    return { kind: 'key', key };
  }
  const authorization = header('Authorization')?.trim();
  if (authorization !== undefined && authorization !== '') {
    const token = BEARER.exec(authorization)?.[1];
    if (token === undefined) {
      throw unauthenticated(
        'Authorization: use the "Bearer" scheme with an IAM token (or send an API key in X-Api-Key)',
        'Authorization',
      );
    }
    if (!TOKEN_SHAPE.test(token)) {
      throw unauthenticated('Authorization: the bearer token is not an IAM token', 'Authorization');
    }
    return { kind: 'token', token };
  }
  // Worded so that the redactor's shape rules (a "Bearer <x>" pair) leave it readable in the log.
  throw unauthenticated(
    'credentials required: an IAM token in Authorization (scheme "Bearer"), or an API key in X-Api-Key',
  );
}
