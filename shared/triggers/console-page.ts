import { ConfigError } from '../errors.ts';
import { header } from './http-request.ts';
import type { HttpResult } from './http-response.ts';
import type { HttpEvent } from './trigger-event.ts';

/**
 * The web console (web/, issue #12) at GET / of the API Gateway and of `npm start`'s front door. The page
 * is one HTML document that `build.mjs` builds and embeds into the check bundle as `__CONSOLE_PAGE__`
 * (esbuild `define`). The literal is referenced only inside `embeddedPage()`, so V8 compiles it only when
 * GET / is asked: the sweep and the API calls of a fresh instance do not pay for the page.
 *
 * The page holds no data and no secret: it asks the API for everything with the credential the person
 * types. Its CSP lets it run only its own inline script and style and call only its own origin.
 */
export interface ConsolePage {
  readonly html: string;
  readonly csp: string;
  readonly etag: string;
}

declare const __CONSOLE_PAGE__: ConsolePage | undefined;

function embeddedPage(): ConsolePage | undefined {
  return typeof __CONSOLE_PAGE__ === 'undefined' ? undefined : __CONSOLE_PAGE__;
}

/**
 * True for the console's route: a GET (or HEAD) whose path is `/`. Through the API Gateway `path` is the
 * route's path in the spec (payload 0.1; the request path in 1.0, the same `/` here); a direct URL
 * invocation has an empty path and keeps answering the run history.
 */
export function isConsoleRequest(event: HttpEvent): boolean {
  const method = event.httpMethod.toUpperCase();
  return (method === 'GET' || method === 'HEAD') && event.path === '/';
}

/** The page's answer: 200 with the HTML, 304 when the browser already has this build, no body for HEAD. */
export function consolePageResult(
  event: HttpEvent,
  page: ConsolePage | undefined = embeddedPage(),
): HttpResult {
  if (page === undefined) {
    throw new ConfigError('console', 'the web console is not in this build (build it with npm run build)');
  }
  const headers = {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': page.csp,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    // Revalidated on every visit (a deploy shows at once); the ETag makes that a 304 without the body.
    'Cache-Control': 'no-cache',
    ETag: page.etag,
  };
  const seen = header(event, 'If-None-Match');
  if (seen?.split(',').some((tag) => tag.trim() === page.etag)) {
    return { statusCode: 304, headers, body: '', isBase64Encoded: false };
  }
  const body = event.httpMethod.toUpperCase() === 'HEAD' ? '' : page.html;
  return { statusCode: 200, headers, body, isBase64Encoded: false };
}
