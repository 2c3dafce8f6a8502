import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from '../../build.mjs';
import { createHandler } from '../../functions/check/handler.ts';
import { httpEvent } from '../../local/cloud-events.ts';
import { createFunctionRuntime } from '../../shared/function-runtime.ts';
import { type ConsolePage, consolePageResult, isConsoleRequest } from '../../shared/triggers/console-page.ts';
import type { HttpEvent } from '../../shared/triggers/trigger-event.ts';
import { type BuiltConsolePage, buildConsolePage } from '../../web/build-console-page.ts';

const get = (path: string, headers: Record<string, string> = {}, method = 'GET'): HttpEvent => ({
  httpMethod: method,
  headers,
  path,
  url: path,
});
const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64');
const inline = (html: string, tag: string): string[] =>
  [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1] ?? '');

describe('the web console page (web/build-console-page.ts)', () => {
  let page: BuiltConsolePage;
  before(async () => {
    page = await buildConsolePage();
  });

  it('is one document: its script and style inline, nothing fetched from anywhere', () => {
    assert.match(page.html, /^<!doctype html><html lang="en">/);
    assert.equal(inline(page.html, 'script').length, 1);
    assert.equal(inline(page.html, 'style').length, 1);
    const references = [...page.html.matchAll(/\s(?:src|href|action|poster|srcset)="([^"]*)"/g)].map(
      (m) => m[1],
    );
    assert.deepEqual(references, ['data:,'], 'only the empty data: icon (no request for /favicon.ico)');
    const [style = ''] = inline(page.html, 'style');
    assert.ok(!/@import|url\(/i.test(style), 'the style loads nothing');
    const markup = page.html.replace(/<script>[\s\S]*<\/script>/, '');
    assert.ok(!/<link[^>]+stylesheet|<iframe|<object|<embed|<img/i.test(markup), 'the markup loads nothing');
    // The one absolute URL is the SVG namespace, a name and not a request.
    const urls = [...page.html.matchAll(/https?:\/\/[^\s"'`)]+/g)].map((m) => m[0]);
    assert.deepEqual([...new Set(urls)], ['http://www.w3.org/2000/svg']);
  });

  it('has a CSP that allows exactly its own script and style, and calls to its own origin only', () => {
    const [script = ''] = inline(page.html, 'script');
    const [style = ''] = inline(page.html, 'style');
    const directives = Object.fromEntries(
      page.csp.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]),
    );
    assert.deepEqual(directives, {
      'default-src': "'none'",
      'script-src': `'sha256-${sha(script)}'`,
      'style-src': `'sha256-${sha(style)}'`,
      'connect-src': "'self'",
      'img-src': 'data:',
      'base-uri': "'none'",
      'form-action': "'none'",
      'frame-ancestors': "'none'",
    });
    assert.doesNotMatch(page.html, /\son[a-z]+="/i, 'no inline event handlers (the CSP would block them)');
    assert.doesNotMatch(page.html, /\sstyle="/i, 'no style attributes (the CSP would block them)');
  });

  it('never writes API data as markup, and keeps the credential out of URLs and local storage', () => {
    const [script = ''] = inline(page.html, 'script');
    assert.doesNotMatch(script, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    assert.doesNotMatch(script, /localStorage/);
    assert.match(script, /sessionStorage/);
    assert.match(script, /X-Api-Key/);
    assert.match(script, /Bearer /);
  });
});

describe('serving the console page (shared/triggers/console-page.ts)', () => {
  const page: ConsolePage = { html: '<!doctype html><p>hi</p>', csp: "default-src 'none'", etag: '"abc"' };

  it('is the GET or HEAD of path "/" only: a URL invocation (empty path) still lists runs', () => {
    assert.equal(isConsoleRequest(get('/')), true);
    assert.equal(isConsoleRequest(get('/', {}, 'HEAD')), true);
    assert.equal(isConsoleRequest(get('')), false);
    assert.equal(isConsoleRequest(get('/runs')), false);
    assert.equal(isConsoleRequest(get('/', {}, 'POST')), false);
  });

  it('answers the page with its CSP and security headers, revalidated by ETag', () => {
    const ok = consolePageResult(get('/'), page);
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.body, page.html);
    assert.deepEqual(ok.headers, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': page.csp,
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-cache',
      ETag: '"abc"',
    });
    const cached = consolePageResult(get('/', { 'If-None-Match': 'W/"x", "abc"' }), page);
    assert.equal(cached.statusCode, 304);
    assert.equal(cached.body, '');
    assert.equal(consolePageResult(get('/', { 'if-none-match': '"old"' }), page).statusCode, 200);
    const head = consolePageResult(get('/', {}, 'HEAD'), page);
    assert.equal(head.statusCode, 200);
    assert.equal(head.body, '');
  });

  it('says so, as JSON, when the handler runs from source without a built page', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'web-console-src-'));
    try {
      const handler = createHandler(
        createFunctionRuntime(
          { RUN_STORE: `file:${dir}`, ALLOWED_PROJECTS: '*' },
          { write: () => undefined },
        ),
      );
      const answer = (await handler(get('/'))) as { statusCode: number; body: string };
      assert.equal(answer.statusCode, 500);
      assert.match(JSON.parse(answer.body).error.message, /web console is not in this build/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the built check bundle serves the console', () => {
  let dir: string;
  let handler: (event: unknown, context?: unknown) => Promise<unknown>;
  let bundleText: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'web-console-build-'));
    await build({ outDir: join(dir, 'dist'), quiet: true });
    const bundle = join(dir, 'dist', 'check', 'index.js');
    bundleText = readFileSync(bundle, 'utf8');
    process.env.RUN_STORE = `file:${join(dir, 'runs')}`;
    process.env.ALLOWED_PROJECTS = '*';
    process.env.LOG_LEVEL = 'error';
    handler = createRequire(import.meta.url)(bundle).handler;
  });
  after(() => {
    delete process.env.RUN_STORE;
    delete process.env.ALLOWED_PROJECTS;
    delete process.env.LOG_LEVEL;
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers GET / (the gateway route) with the page and GET /runs with the history', async () => {
    const page = (await handler(
      httpEvent({
        method: 'GET',
        url: '/',
        headers: { accept: 'text/html' },
        body: Buffer.alloc(0),
        routePath: '/',
      }),
    )) as { statusCode: number; headers: Record<string, string>; body: string };
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['Content-Type'], 'text/html; charset=utf-8');
    assert.match(page.body, /<title>datasphere-runner · runs<\/title>/);
    assert.match(page.headers['Content-Security-Policy'] ?? '', /^default-src 'none'; script-src 'sha256-/);
    const again = (await handler(
      httpEvent({
        method: 'GET',
        url: '/',
        headers: { 'if-none-match': page.headers.ETag ?? '' },
        body: Buffer.alloc(0),
        routePath: '/',
      }),
    )) as { statusCode: number };
    assert.equal(again.statusCode, 304);
    const list = (await handler(
      httpEvent({ method: 'GET', url: '/runs?limit=5', headers: {}, body: Buffer.alloc(0) }),
    )) as { statusCode: number; body: string };
    assert.equal(list.statusCode, 200);
    assert.deepEqual(JSON.parse(list.body), { runs: [], nextCursor: null });
  });

  it('holds the page once, and only the check bundle holds it', () => {
    const marker = '<!doctype html>';
    assert.equal(bundleText.split(marker).length - 1, 1);
    for (const fn of ['execute', 'cancel']) {
      assert.ok(!readFileSync(join(dir, 'dist', fn, 'index.js'), 'utf8').includes(marker), fn);
    }
  });
});
