// What the console knows of run statuses (design.md §5). The list is the core's: run-record.ts has no
// imports and esbuild keeps only what the page uses of it, so the page gains no more than the list.
import { RUN_STATUSES, type RunStatus } from '../../shared/core/run-record.ts';

export const STATUSES = RUN_STATUSES;
export type Status = RunStatus;

/** Statuses whose run is not over yet: the list and the detail refresh live while one is shown. */
export const ACTIVE_STATUSES: ReadonlySet<string> = new Set(['STARTING', 'QUEUED', 'RUNNING']);

export const isActive = (status: string): boolean => ACTIVE_STATUSES.has(status);

/**
 * A sign per status, shown beside the status word so a status never depends on colour alone: the word
 * is always printed, the sign makes a column scannable, the colour only helps.
 */
export const STATUS_SIGN: Readonly<Record<Status, string>> = {
  STARTING: '◌',
  QUEUED: '…',
  RUNNING: '▶',
  SUCCEEDED: '✓',
  FAILED: '✗',
  CANCELLED: '⊘',
  TIMED_OUT: '◷',
};

/** "TIMED_OUT" → "timed out": how a status reads in a sentence or a column header. */
export const statusWords = (status: string): string => status.toLowerCase().replace(/_/g, ' ');

/** The sign of a status, or "?" for one this page does not know (a newer API). */
export const signOf = (status: string): string => (STATUS_SIGN as Record<string, string>)[status] ?? '?';
