import { RequestTooLargeError } from '../errors.ts';

/**
 * Size limits of what callers send (design.md §4). They keep an oversized request away from the
 * ledger (a Document API item is at most 400 KB, and one too large failed every retry), from the
 * DataSphere API and from the logs, and they are checked before anything is parsed or stored.
 */
export const LIMITS = {
  /** An HTTP body or a trigger message body (queue message, timer payload): 413 before parsing. */
  bodyBytes: 64 * 1024,
  /** A run request as JSON (re-serialised, so indentation does not count): 400 naming the field. */
  requestBytes: 16 * 1024,
  /** One `inputVariables` value (UTF-8): 400 naming the variable. */
  variableBytes: 4 * 1024,
  /** Entries of `inputVariables` and `outputVariableNames`. */
  variables: 100,
} as const;

/** UTF-8 size of `text`, or of the bytes a base64 text decodes to. */
export function byteSize(text: string, encoding: 'utf8' | 'base64' = 'utf8'): number {
  return Buffer.byteLength(text, encoding);
}

/** Throws REQUEST_TOO_LARGE (413) naming `field` when `text` is over the body limit. */
export function assertBodySize(text: string, field: string, encoding: 'utf8' | 'base64' = 'utf8'): void {
  // Each UTF-16 unit is at most 3 bytes of UTF-8 (and base64 decodes to fewer bytes than it has
  // characters): the common small body needs no count.
  if (text.length * 3 <= LIMITS.bodyBytes) return;
  const bytes = byteSize(text, encoding);
  if (bytes > LIMITS.bodyBytes) throw new RequestTooLargeError(field, bytes, LIMITS.bodyBytes);
}
