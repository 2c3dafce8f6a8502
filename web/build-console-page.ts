/**
 * Builds the web console (web/page/) into ONE self-contained HTML document: the TypeScript bundled and
 * minified by esbuild, the CSS minified, both inlined, and a Content-Security-Policy that allows exactly
 * those two inline blocks (by their SHA-256) and calls to the page's own origin, nothing else: no CDN,
 * no font, no image from anywhere (many users' browsers, and this machine, have no internet).
 *
 * `build.mjs` embeds the result into the check bundle (esbuild `define`), which serves it at GET /.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';

/** What the check function serves at GET /. */
export interface ConsolePage {
  readonly html: string;
  /** The Content-Security-Policy header of the page. */
  readonly csp: string;
  /** A strong ETag of the page (it changes only with a build). */
  readonly etag: string;
}

export interface BuiltConsolePage extends ConsolePage {
  readonly scriptBytes: number;
  readonly styleBytes: number;
}

const PAGE_DIR = join(import.meta.dirname, 'page');
/** Browsers the page is built for: what `color-mix()`, `<dialog>` and `Object.hasOwn` need. */
const BROWSERS = ['chrome111', 'edge111', 'firefox113', 'safari16.2'];

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64');

/** The policy that allows the page's own inline script and style, and calls to its own origin only. */
export function contentSecurityPolicy(script: string, style: string): string {
  return [
    "default-src 'none'",
    `script-src 'sha256-${sha256(script)}'`,
    `style-src 'sha256-${sha256(style)}'`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export async function buildConsolePage(): Promise<BuiltConsolePage> {
  const bundled = await esbuild.build({
    entryPoints: [join(PAGE_DIR, 'console-app.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: BROWSERS,
    minify: true,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'warning',
  });
  const script = (bundled.outputFiles[0]?.text ?? '').trim();
  const style = (
    await esbuild.transform(readFileSync(join(PAGE_DIR, 'console.css'), 'utf8'), {
      loader: 'css',
      minify: true,
      target: BROWSERS,
    })
  ).code.trim();
  if (/<\/script/i.test(script)) throw new Error('web console: the script would close its <script> element');
  if (/<\/style/i.test(style)) throw new Error('web console: the style would close its <style> element');
  const template = readFileSync(join(PAGE_DIR, 'console.html'), 'utf8').replace(/>\s+</g, '><').trim();
  const html = template
    .replace('/*@CONSOLE_STYLE@*/', () => style)
    .replace('/*@CONSOLE_SCRIPT@*/', () => script);
  if (html === template) throw new Error('web console: the template has lost its placeholders');
  return {
    html,
    csp: contentSecurityPolicy(script, style),
    etag: `"${createHash('sha256').update(html).digest('base64url').slice(0, 22)}"`,
    scriptBytes: Buffer.byteLength(script),
    styleBytes: Buffer.byteLength(style),
  };
}
