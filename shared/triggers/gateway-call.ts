import type { HttpEvent } from './trigger-event.ts';

/**
 * Tells an HTTP call that came through the API Gateway from a direct invocation of the function.
 *
 * Direct invocations (the function's own URL, `yc serverless function invoke`, the triggers) are
 * authorized by IAM (`serverless.functions.invoker`) before the function runs, and they carry none of the
 * gateway's marks: their `url` and `path` are empty, there is no `requestContext.apiGateway` nor
 * `requestContext.authorizer`, no `resource`. The gateway sets at least one of those on every event it
 * sends (platform.md §6; the spec's integrations also set `context`, which arrives as
 * `requestContext.apiGateway.operationContext`), and its callers cannot remove them: they control
 * headers, query and body, not the event the gateway builds. Any mark means "gateway": authentication is
 * then required (fail closed).
 *
 * What a direct invoker could forge does not matter: adding a mark (through `?integration=raw`, or the
 * header) only subjects its own call to authentication, and leaving them out grants nothing it does not
 * already hold, since it is already allowed to invoke the function with the service account's rights.
 */
export function isGatewayCall(event: HttpEvent): boolean {
  const raw = event as HttpEvent & {
    readonly resource?: unknown;
    readonly requestContext?: { readonly apiGateway?: unknown; readonly authorizer?: unknown };
  };
  const context = raw.requestContext;
  return (
    nonEmpty(raw.url) ||
    nonEmpty(raw.path) ||
    nonEmpty(raw.resource) ||
    (typeof context === 'object' &&
      context !== null &&
      (context.apiGateway != null || context.authorizer != null)) ||
    hasHeader(event, 'X-Serverless-Gateway-Id')
  );
}

const nonEmpty = (value: unknown): boolean => typeof value === 'string' && value !== '';

function hasHeader(event: HttpEvent, name: string): boolean {
  const wanted = name.toLowerCase();
  return [...Object.keys(event.headers ?? {}), ...Object.keys(event.multiValueHeaders ?? {})].some(
    (key) => key.toLowerCase() === wanted,
  );
}
