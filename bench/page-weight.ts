// The web console (issue #12): what the page weighs, and what serving it costs the check function, which
// holds the page in its bundle. Rows:
//   - the page as GET / answers it: bytes raw and gzipped (what a compressing proxy or browser cache
//     holds), and the requests of a first visit;
//   - the check bundle with the console against the same bundle built without it: bytes (the function's
//     size budget) and, in CPU instructions on the runtime's Node (callgrind, as bench/first-invocation.ts
//     counts them), what a first invocation that does NOT ask for the page pays for it (GET /runs on an
//     empty ledger, with vs without), and the first invocation that serves the page over an empty handler
//     (the function's cold-start budget).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from '../build.mjs';
import { httpEvent } from '../local/cloud-events.ts';
import { buildConsolePage } from '../web/build-console-page.ts';
import { limited, valgrindVersion } from './first-invocation.ts';
import { bounded, info, kb, mInstr, type Row } from './results-table.ts';
import { buildEmptyHandler } from './sdk-comparison.ts';

export interface PageWeightOptions {
  /** dist/ of the build being measured. */
  readonly distDir: string;
  /** The node the functions are measured on (the runtime's 22.15). @default process.execPath */
  readonly node?: string;
  readonly log?: (line: string) => void;
  /** Where a sentence for the results' notes goes. */
  readonly note?: (text: string) => void;
}

/** Budgets: the function's own (issue #14) and, for the page, what keeps it a small page. */
export const PAGE_BUDGET = {
  pageGzipBytes: 16 * 1024,
  checkBundleBytes: 400 * 1024,
  firstCallInstructions: 350e6,
  /**
   * What the page may add to a first invocation that does not serve it. It is never compiled then, but V8
   * still scans its bytes with the rest of the bundle (~90 instructions a byte): this keeps the page small.
   */
  notAskedInstructions: 5e6,
} as const;

const FIRST_CALL = join(import.meta.dirname, 'first-call.cjs');
const NODE_FLAGS = ['--hash-seed=1', '--random-seed=1'];

interface Case {
  readonly bundle: string;
  readonly path: '/' | '/runs';
}

function callgrind(node: string, scratch: string, key: string, c: Case): Promise<number> {
  const dir = mkdtempSync(join(scratch, `${key}-`));
  const eventFile = join(dir, 'event.json');
  const event = httpEvent({
    method: 'GET',
    url: c.path === '/' ? '/' : '/runs?limit=20',
    headers: { accept: c.path === '/' ? 'text/html' : 'application/json' },
    body: Buffer.alloc(0),
    ...(c.path === '/' ? { routePath: '/' } : {}),
  });
  writeFileSync(eventFile, JSON.stringify(event));
  const env = {
    PATH: process.env.PATH ?? '',
    RUN_STORE: `file:${join(dir, 'runs')}`,
    ALLOWED_PROJECTS: '*',
    LOG_LEVEL: 'error',
  };
  return new Promise((resolve, reject) => {
    execFile(
      'valgrind',
      [
        '--tool=callgrind',
        '--callgrind-out-file=/dev/null',
        node,
        ...NODE_FLAGS,
        FIRST_CALL,
        c.bundle,
        eventFile,
      ],
      { env, maxBuffer: 64 * 1024 * 1024 },
      (_error, stdout, stderr) => {
        rmSync(dir, { recursive: true, force: true });
        const line = stdout.split('\n').find((l) => l.startsWith('@@first-call '));
        const answer = line === undefined ? undefined : JSON.parse(line.slice('@@first-call '.length));
        // The empty handler answers `{}`; the check bundle must really have served the request.
        if (answer?.ok !== true || (key !== 'empty' && answer.statusCode !== 200)) {
          reject(new Error(`${key}: GET ${c.path} did not answer 200: ${line ?? stderr.slice(-400)}`));
          return;
        }
        const total = /Collected\s*:\s*(\d+)/.exec(stderr)?.[1];
        if (total === undefined) reject(new Error(`${key}: callgrind printed no total`));
        else resolve(Number(total));
      },
    );
  });
}

/** The check bundle exactly as build.mjs makes it (same settings, plugins, jobs), but without the page. */
async function checkWithoutConsole(outDir: string): Promise<string> {
  await build({ outDir: join(outDir, 'without-console'), quiet: true, webConsole: false });
  return join(outDir, 'without-console', 'check', 'index.js');
}

export async function measurePageWeight(options: PageWeightOptions): Promise<Row[]> {
  const log = options.log ?? (() => undefined);
  const node = options.node ?? process.execPath;
  const rows: Row[] = [];
  const page = await buildConsolePage();
  const raw = Buffer.byteLength(page.html);
  const gzip = gzipSync(page.html, { level: 9 }).length;
  rows.push(
    info(
      'web console page at GET /: bytes as served (script / style inside)',
      `${kb(raw)} (${kb(page.scriptBytes)} / ${kb(page.styleBytes)})`,
    ),
  );
  rows.push(bounded('web console page: gzipped', gzip, PAGE_BUDGET.pageGzipBytes, kb));
  rows.push(
    info(
      'web console: requests of a first visit',
      '1 page + 1 list page + chart pages (1 per 100 runs of the last 7 days, at most 10); nothing external',
    ),
  );

  const withConsole = join(options.distDir, 'check', 'index.js');
  const scratch = mkdtempSync(join(tmpdir(), 'datasphere-runner-bench-page-'));
  try {
    writeFileSync(join(scratch, 'package.json'), '{"type": "commonjs"}\n');
    const without = await checkWithoutConsole(scratch);
    const withBytes = readFileSync(withConsole).length;
    const withoutBytes = readFileSync(without).length;
    rows.push(bounded('check bundle with console: size', withBytes, PAGE_BUDGET.checkBundleBytes, kb));
    rows.push(info('check bundle with console: the console adds', `+${kb(withBytes - withoutBytes)}`));
    if (valgrindVersion() === undefined) {
      rows.push(
        bounded(
          'check with console: first call of GET / over empty, instructions',
          undefined,
          PAGE_BUDGET.firstCallInstructions,
          mInstr,
          'no valgrind',
        ),
      );
      return rows;
    }
    const empty = await buildEmptyHandler(scratch);
    log('page weight: 4 first calls under callgrind, 2 at a time');
    const cases: [string, () => Promise<number>][] = [
      ['empty', () => callgrind(node, scratch, 'empty', { bundle: empty.file, path: '/runs' })],
      ['list-without', () => callgrind(node, scratch, 'list-without', { bundle: without, path: '/runs' })],
      ['list-with', () => callgrind(node, scratch, 'list-with', { bundle: withConsole, path: '/runs' })],
      ['page', () => callgrind(node, scratch, 'page', { bundle: withConsole, path: '/' })],
    ];
    const counts = new Map(
      await limited(
        cases.map(
          ([key, run]) =>
            async () =>
              [key, await run()] as const,
        ),
        2,
      ),
    );
    const at = (key: string) => counts.get(key) as number;
    rows.push(
      bounded(
        'check with console: first call that does not ask for the page (GET /runs), with − without console',
        at('list-with') - at('list-without'),
        PAGE_BUDGET.notAskedInstructions,
        mInstr,
      ),
    );
    rows.push(
      bounded(
        'check with console: first call serving the page (GET /) over empty, instructions',
        at('page') - at('empty'),
        PAGE_BUDGET.firstCallInstructions,
        mInstr,
      ),
    );
    options.note?.(
      `Web console: the page is built by web/build-console-page.ts (esbuild, minified, inlined, CSP by hash) and ` +
        `embedded in the check bundle as one string literal inside the function that serves it, so V8 compiles it ` +
        `only when GET / is asked. First calls (a fresh node, bench/first-call.cjs, callgrind): empty handler ` +
        `${(at('empty') / 1e6).toFixed(1)} M; GET /runs on an empty file ledger ${(at('list-without') / 1e6).toFixed(1)} M ` +
        `without the console and ${(at('list-with') / 1e6).toFixed(1)} M with it; GET / ${(at('page') / 1e6).toFixed(1)} M. ` +
        `Gzip level 9 of the ${raw} bytes: ${gzip} bytes (the function answers it uncompressed).`,
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return rows;
}
