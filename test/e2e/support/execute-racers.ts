/**
 * Execute instances to race: the platform's own and more in processes of their own, and concurrent
 * HTTP starts spread over them, each answer read as the gateway would pass it on.
 */
import { httpEvent } from '../../../local/cloud-events.ts';
import type { InvokeResult } from '../../../local/platform.ts';
import { type Harness, invocationAnswer, type Json } from './harness.ts';

export type Invoke = (event: unknown) => Promise<InvokeResult>;

/** The platform's execute instance and two more, each in a process of its own. */
export async function threeExecuteInstances(h: Harness): Promise<Invoke[]> {
  const others = await Promise.all([h.spawn('execute'), h.spawn('execute')]);
  return [
    (event) => h.platform.invoke('execute', event),
    ...others.map((instance) => (event: unknown) => instance.invoke(event)),
  ];
}

/** `count` concurrent `POST /execute` of `body`, racer i on instance i mod n with Idempotency-Key `keyOf(i)`. */
export function racedStarts(
  instances: readonly Invoke[],
  count: number,
  body: Json,
  keyOf: (racer: number) => string,
): Promise<ReturnType<typeof invocationAnswer>[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const invoke = instances[i % instances.length] as Invoke;
      const event = httpEvent({
        method: 'POST',
        url: '/execute',
        headers: { 'content-type': 'application/json', 'idempotency-key': keyOf(i) },
        body: Buffer.from(JSON.stringify(body)),
      });
      return invocationAnswer(await invoke(event));
    }),
  );
}
