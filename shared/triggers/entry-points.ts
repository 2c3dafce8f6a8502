import type { CallerAccess, CoreDeps } from '../core/ports.ts';
import { isRunnerError, RunnerError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Redactor } from '../redact.ts';
import { isGatewayCall } from './gateway-call.ts';
import { header } from './http-request.ts';
import type { HttpResult } from './http-response.ts';
import { answerHttp, classifyOrDrop } from './invocation.ts';
import type { HttpEvent, QueueMessage, TimerMessage } from './trigger-event.ts';

/** What a handler needs of its function runtime (see shared/function-runtime.ts). */
export interface EntryRuntime<C> {
  readonly log: Logger;
  /** Masks the instance's secrets (by value) in whatever an invocation hands back to the platform. */
  readonly redactor: Redactor;
  /** Called first in every invocation, so the runtime knows the invocation's token before anything is written. */
  enter(context: C | undefined): void;
  depsFor(context: C | undefined): CoreDeps;
  deadlineSignal(context: C | undefined): AbortSignal | undefined;
  /**
   * The caller of a call through the API Gateway, from its headers (shared/auth); throws UNAUTHENTICATED
   * without any I/O when there is no usable credential.
   */
  authenticate(header: (name: string) => string | undefined): CallerAccess;
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
  /**
   * Content that holds no data and calls nothing (the web console's page): answered before any
   * authentication, so that a browser can load it; undefined for every other request, which goes on to
   * `http`. Nothing else may be answered here: every other gateway call needs credentials.
   */
  readonly publicHttp?: (event: HttpEvent) => HttpResult | undefined;
  readonly http?: (event: HttpEvent, invocation: Invocation) => Promise<HttpResult>;
  readonly timer?: (messages: readonly TimerMessage[], invocation: Invocation) => Promise<unknown>;
  readonly queue?: (messages: readonly QueueMessage[], invocation: Invocation) => Promise<unknown>;
}

/**
 * The whole of a handler: tells the trigger kind, runs the matching entry point, and answers every HTTP
 * failure itself (JSON with a stable code, never the platform's 502 with a stack trace). Trigger entry
 * points throw only to make the platform redeliver. Nothing leaves with a secret in it: the answer's
 * body, a trigger's result and the message of an error thrown to the platform are scrubbed by value.
 *
 * Deny by default (design.md §8): an HTTP call that came through the API Gateway is authenticated here,
 * before its entry point runs (a caller without usable credentials gets 401 before anything is read or
 * called), and its entry point's deps carry the caller's access, which the core checks on every project
 * it touches. Direct invocations and triggers, authorized by IAM, go on as they are.
 */
export function createEntryHandler<C>(name: string, runtime: EntryRuntime<C>, entries: EntryPoints) {
  const { redactor } = runtime;
  return async (event: unknown, context?: C): Promise<unknown> => {
    runtime.enter(context);
    const classified = classifyOrDrop(runtime, event);
    if (classified === undefined) return { dropped: 1 };
    let deps: CoreDeps | undefined;
    let access: CallerAccess | undefined;
    const invocation: Invocation = {
      deps: () => {
        deps ??= withCaller(runtime.depsFor(context), access);
        return deps;
      },
      signal: runtime.deadlineSignal(context),
    };
    switch (classified.kind) {
      case 'http': {
        const http = entries.http;
        if (http === undefined) break;
        const { event } = classified;
        return scrubAnswer(
          redactor,
          await answerHttp(runtime.log, async () => {
            const open = entries.publicHttp?.(event);
            if (open !== undefined) return open;
            if (isGatewayCall(event)) access = runtime.authenticate((name) => header(event, name));
            return http(event, invocation);
          }),
        );
      }
      case 'timer': {
        const timer = entries.timer;
        if (timer === undefined) break;
        return scrubOutcome(redactor, () => timer(classified.messages, invocation));
      }
      case 'queue': {
        const queue = entries.queue;
        if (queue === undefined) break;
        return scrubOutcome(redactor, () => queue(classified.messages, invocation));
      }
    }
    runtime.log.error(`${name} has no ${classified.kind} entry point; event dropped`, {});
    return { dropped: 1 };
  };
}

/** The invocation's deps for a gateway caller: its access, and its name on every log line. */
function withCaller(deps: CoreDeps, access: CallerAccess | undefined): CoreDeps {
  if (access === undefined) return deps;
  return { ...deps, access, log: deps.log.child({ caller: access.caller }) };
}

/** The answer with its body scrubbed: a JSON body value by value (it stays valid JSON), any other as text. */
function scrubAnswer(redactor: Redactor, answer: HttpResult): HttpResult {
  let body: string;
  try {
    body = JSON.stringify(redactor.deep(JSON.parse(answer.body) as unknown));
  } catch {
    body = redactor.values(answer.body);
  }
  return body === answer.body ? answer : { ...answer, body };
}

/**
 * A trigger's result, or the error it throws for redelivery, scrubbed: the platform logs both. The
 * error is a new one (same code), since the original's stack already holds its unscrubbed message.
 */
async function scrubOutcome(redactor: Redactor, work: () => Promise<unknown>): Promise<unknown> {
  try {
    return redactor.deep(await work());
  } catch (error) {
    const message = redactor.text(error instanceof Error ? error.message : String(error));
    if (isRunnerError(error)) throw new RunnerError(error.code, message);
    const safe = new Error(message);
    safe.name = error instanceof Error ? error.name : 'Error';
    throw safe;
  }
}
