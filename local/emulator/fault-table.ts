/**
 * Injected faults, consumed first-come: the oldest pending fault whose method and path match the request
 * is used, and dropped once its `times` are spent.
 */
import type { Fault } from './types.ts';

const KINDS: readonly Fault['kind'][] = ['latency', 'status', 'drop', 'malformed'];

interface PendingFault {
  readonly fault: Fault;
  remaining: number;
}

/** Throws a TypeError naming the first thing wrong with a fault (they come from tests and the control API). */
export function checkFault(fault: Fault): void {
  if (!KINDS.includes(fault.kind)) throw new TypeError(`fault.kind must be one of ${KINDS.join(', ')}`);
  const times = fault.times ?? 1;
  if (!(times === Number.POSITIVE_INFINITY || (Number.isInteger(times) && times >= 1))) {
    throw new TypeError('fault.times must be a positive integer or Infinity');
  }
  if (
    fault.status !== undefined &&
    !(Number.isInteger(fault.status) && fault.status >= 200 && fault.status <= 599)
  ) {
    throw new TypeError('fault.status must be an HTTP status (200..599)');
  }
  if (fault.rpcCode !== undefined && !(Number.isInteger(fault.rpcCode) && fault.rpcCode >= 0)) {
    throw new TypeError('fault.rpcCode must be a non-negative integer');
  }
  for (const field of ['latencyMs', 'retryAfterSeconds'] as const) {
    const value = fault[field];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new TypeError(`fault.${field} must be a non-negative number`);
    }
  }
}

export class FaultTable {
  #pending: PendingFault[] = [];

  add(fault: Fault): void {
    checkFault(fault);
    this.#pending.push({ fault: { ...fault }, remaining: fault.times ?? 1 });
  }

  /** Consumes one use of the first fault matching the request, if any. */
  take(method: string, path: string): Fault | undefined {
    const index = this.#pending.findIndex(
      ({ fault }) =>
        (fault.method === undefined || fault.method.toUpperCase() === method.toUpperCase()) &&
        (fault.path === undefined || path.includes(fault.path)),
    );
    const entry = this.#pending[index];
    if (entry === undefined) return undefined;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.#pending.splice(index, 1);
    return entry.fault;
  }

  /** The faults still pending, with the uses left as `times`. */
  list(): Fault[] {
    return this.#pending.map(({ fault, remaining }) => ({ ...fault, times: remaining }));
  }

  clear(): void {
    this.#pending = [];
  }
}
