import type { CoreDeps } from '../core/ports.ts';
import type { Logger } from '../log.ts';
import type { HttpResult } from './http-response.ts';
import { answerHttp, classifyOrDrop } from './invocation.ts';
import type { HttpEvent, QueueMessage, TimerMessage } from './trigger-event.ts';

/** What a handler needs of its function runtime (see shared/function-runtime.ts). */
export interface EntryRuntime<C> {
  readonly log: Logger;
  depsFor(context: C | undefined): CoreDeps;
  deadlineSignal(context: C | undefined): AbortSignal | undefined;
}

/** One invocation as the entry points see it. */
export interface Invocation {
  /** Built on first use, so an HTTP answer can report a configuration error as JSON. */
  deps(): CoreDeps;
  /** Fires shortly before the function's time runs out. */
  readonly signal: AbortSignal | undefined;
}

/** The entry points a function has; an event for one it lacks is logged and dropped. */
export interface EntryPoints {
  readonly http?: (event: HttpEvent, invocation: Invocation) => Promise<HttpResult>;
  readonly timer?: (messages: readonly TimerMessage[], invocation: Invocation) => Promise<unknown>;
  readonly queue?: (messages: readonly QueueMessage[], invocation: Invocation) => Promise<unknown>;
}

/**
 * The whole of a handler: tells the trigger kind, runs the matching entry point, and answers every HTTP
 * failure itself (JSON with a stable code, never the platform's 502 with a stack trace). Trigger entry
 * points throw only to make the platform redeliver.
 */
export function createEntryHandler<C>(name: string, runtime: EntryRuntime<C>, entries: EntryPoints) {
  return async (event: unknown, context?: C): Promise<unknown> => {
    const classified = classifyOrDrop(runtime, event);
    if (classified === undefined) return { dropped: 1 };
    let deps: CoreDeps | undefined;
    const invocation: Invocation = {
      deps: () => {
        deps ??= runtime.depsFor(context);
        return deps;
      },
      signal: runtime.deadlineSignal(context),
    };
    switch (classified.kind) {
      case 'http': {
        const http = entries.http;
        if (http === undefined) break;
        return answerHttp(runtime.log, () => http(classified.event, invocation));
      }
      case 'timer':
        if (entries.timer === undefined) break;
        return entries.timer(classified.messages, invocation);
      case 'queue':
        if (entries.queue === undefined) break;
        return entries.queue(classified.messages, invocation);
    }
    runtime.log.error(`${name} has no ${classified.kind} entry point; event dropped`, {});
    return { dropped: 1 };
  };
}
