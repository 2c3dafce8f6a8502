import { createHash } from 'node:crypto';
import type { RunAction, RunRequest } from './run-record.ts';

/**
 * Deterministic ids. The same dedupe key always gives the same run id and the same Yandex
 * `Idempotency-Key`, so a redelivered trigger finds its run, and a start retried after a crash sends
 * the key Yandex has already seen (design.md §5).
 */

/** A name-based UUID (version 5 layout, SHA-1) of `purpose` and `name`. */
export function deterministicUuid(purpose: string, name: string): string {
  const bytes = createHash('sha1')
    .update(`datasphere-runner/${purpose}\u0000${name}`)
    .digest()
    .subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const runIdFor = (dedupeKey: string): string => deterministicUuid('run', dedupeKey);
export const executeKeyFor = (dedupeKey: string): string => deterministicUuid('execute', dedupeKey);
export const activateKeyFor = (dedupeKey: string): string => deterministicUuid('activate', dedupeKey);

/**
 * The Idempotency-Key of a run's start call, one purpose per action: an Open or an Activate run never
 * sends a key an Execute (or the activation step before an Execute) could have sent.
 */
export function startKeyFor(action: RunAction, dedupeKey: string): string {
  switch (action) {
    case 'execute':
      return executeKeyFor(dedupeKey);
    case 'open':
      return deterministicUuid('open', dedupeKey);
    case 'activate':
      return deterministicUuid('activate-action', dedupeKey);
  }
}

/** What makes two deliveries the same run. A caller's key wins over the delivery's own id. */
export type DedupeSource =
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'timer'; readonly eventId: string }
  | { readonly kind: 'queue'; readonly messageId: string }
  | { readonly kind: 'schedule'; readonly key: string }
  | { readonly kind: 'chain'; readonly key: string }
  | { readonly kind: 'http'; readonly requestId: string };

export function dedupeKeyOf(source: DedupeSource): string {
  switch (source.kind) {
    case 'key':
      return `key:${source.key}`;
    case 'timer':
      return `timer:${source.eventId}`;
    case 'queue':
      return `queue:${source.messageId}`;
    case 'schedule':
    case 'chain':
      return source.key;
    case 'http':
      return `http:${source.requestId}`;
  }
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/** SHA-256 of the canonical JSON of a request: one key reused for another request is refused. */
export function requestHashOf(request: RunRequest): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical(request)))
    .digest('hex');
}
