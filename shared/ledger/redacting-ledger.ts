import type { Redactor } from '../redact.ts';
import type { RunLedger } from './run-ledger.ts';

/**
 * A ledger that never stores a secret the instance holds: every record handed to a store method is
 * scrubbed by value first (an API error message that echoed the token into `record.error.message`, a
 * failing webhook's answer in a delivery's `lastError`). The core needs no change and cannot forget a
 * path. Reads pass through.
 *
 * Every method of the port is forwarded, those added later included; a method's plain-object
 * arguments (the records it writes) are scrubbed, ids, dates and numbers are passed as they are. The
 * scrubbed copy is what is stored (the record itself when it holds nothing to hide: `Redactor.deep`
 * copies only what it masks, so the sweep's writes allocate nothing here), and what the store returns
 * (compare-and-set versions included) is what the core goes on with.
 */
export function redactingLedger<L extends RunLedger>(ledger: L, redactor: Redactor): L {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(ledger, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      let method = wrapped.get(property);
      if (method === undefined) {
        method = (...args: unknown[]) =>
          (value as (...a: unknown[]) => unknown).apply(
            target,
            args.map((arg) => (isPlainData(arg) ? redactor.deep(arg) : arg)),
          );
        wrapped.set(property, method);
      }
      return method;
    },
  });
}

function isPlainData(value: unknown): boolean {
  if (Array.isArray(value)) return true;
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
