// Builds one self-contained CommonJS bundle per function (design.md §2): dist/<fn>/index.js exporting
// `handler`, its esbuild metafile dist/<fn>/meta.json, and dist/<fn>.zip holding only index.js for
// upload. The jobs file (jobs.yaml, or JOBS_FILE) is validated here and embedded: its scheduled jobs
// into execute, its chained jobs (`after`) into check; a bad job fails the build naming the job and the
// problem. The web console page (web/) is built first and embedded into the check bundle, which serves
// it at GET /.
//
// Run with `node --import tsx build.mjs` (npm run build): the jobs loader is TypeScript.
// Env: BUILD_OUT_DIR (default dist), JOBS_FILE (default jobs.yaml).
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { zipSync } from 'fflate';

const root = dirname(fileURLToPath(import.meta.url));
export const FUNCTIONS = ['execute', 'check', 'cancel'];

/**
 * The esbuild settings of every function bundle; `npm run bench` builds its comparison handlers (an
 * empty one, one on the official SDK) with the same settings. The function bundles also get
 * BUNDLE_PLUGINS (see build()).
 */
export const ESBUILD_OPTIONS = Object.freeze({
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node22',
  minify: true,
  metafile: true,
  legalComments: 'eof',
  logLevel: 'warning',
});

/**
 * undici files the functions never run, each replaced by a few bytes that fail loudly if one ever is.
 * shared/api/undici-dispatcher.ts imports only undici's Agent and request API; of what they pull in:
 * - `llhttp/llhttp-wasm.js` (≈72 KB): the HTTP parser without WebAssembly SIMD, loaded only when the
 *   SIMD copy (`llhttp_simd-wasm.js`, kept) fails to compile. V8 compiles wasm SIMD on every x86-64 CPU
 *   with SSE4.1; Node 22.15 (V8 12.4) has no flag that turns it off, and undici picks the plain copy on
 *   x86-64 only when UNDICI_NO_WASM_SIMD=1 (docs/api.md, "Transport").
 * - `web/fetch/body.js` and the fetch/webidl modules behind it (≈40 KB): used only to send a FormData
 *   body; the functions send strings.
 * - `dispatcher/client-h2.js` (≈10 KB): HTTP/2, used only when a connection negotiates h2, which needs
 *   `allowH2`; the dispatcher speaks HTTP/1.1.
 */
const UNDICI_STUBS = {
  'llhttp/llhttp-wasm.js':
    'throw new Error("undici\'s non-SIMD HTTP parser is left out of this bundle (build.mjs): WebAssembly SIMD did not compile here, or UNDICI_NO_WASM_SIMD=1 is set");',
  'web/fetch/body.js':
    "module.exports.extractBody = () => { throw new Error('FormData request bodies are left out of this bundle (build.mjs)'); };",
  'dispatcher/client-h2.js':
    "module.exports = () => { throw new Error('HTTP/2 is left out of this bundle (build.mjs): create the dispatcher without allowH2'); };",
};

/** The esbuild plugin that puts UNDICI_STUBS in place of those files. */
export const trimUndici = Object.freeze({
  name: 'trim-undici',
  setup(builder) {
    builder.onLoad(
      {
        filter:
          /[\\/]undici[\\/]lib[\\/](llhttp[\\/]llhttp-wasm|web[\\/]fetch[\\/]body|dispatcher[\\/]client-h2)\.js$/,
      },
      (args) => {
        const file = args.path.replaceAll('\\', '/').split('/undici/lib/')[1];
        const contents = file === undefined ? undefined : UNDICI_STUBS[file];
        return contents === undefined ? undefined : { contents, loader: 'js' };
      },
    );
  },
});

/** Plugins of the function bundles. */
export const BUNDLE_PLUGINS = Object.freeze([trimUndici]);

async function loadJobs() {
  const { locateJobsFile, loadJobsFile } = await import('./shared/schedule/jobs-file-loader.ts');
  const { parseRunRequest } = await import('./shared/triggers/run-request.ts');
  const { path, mustExist } = locateJobsFile(root, process.env);
  const jobs = loadJobsFile(path, { parseRunRequest }, { mustExist });
  return { path, jobs };
}

/** The jobs embedded into the bundle of `fn`. */
export function jobsFor(fn, jobs) {
  if (fn === 'execute') return jobs.filter((job) => job.schedule !== undefined);
  if (fn === 'check') return jobs.filter((job) => job.after !== undefined);
  return [];
}

export async function build({
  outDir = resolve(root, process.env.BUILD_OUT_DIR ?? 'dist'),
  quiet = false,
  // false: the check bundle without the web console (the bench weighs what the console adds).
  webConsole = true,
} = {}) {
  let loaded;
  try {
    loaded = await loadJobs();
  } catch (error) {
    throw new Error(`jobs file is invalid:\n${error.message}`);
  }
  // The web console (web/), served by the check function at GET / (shared/triggers/console-page.ts).
  const { buildConsolePage } = await import('./web/build-console-page.ts');
  const page = webConsole ? await buildConsolePage() : undefined;
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  // The repository is ESM ("type": "module"); the bundles are CommonJS, as Cloud Functions loads them.
  // This marker makes Node treat dist/ as CommonJS locally; the zips do not carry it.
  writeFileSync(join(outDir, 'package.json'), '{"type": "commonjs"}\n');
  const results = [];
  for (const fn of FUNCTIONS) {
    const fnDir = join(outDir, fn);
    mkdirSync(fnDir, { recursive: true });
    const outfile = join(fnDir, 'index.js');
    const result = await esbuild.build({
      ...ESBUILD_OPTIONS,
      plugins: [...BUNDLE_PLUGINS],
      entryPoints: [join(root, 'functions', fn, 'handler.ts')],
      outfile,
      // execute ticks the scheduled jobs; check's sweep starts the chained ones (`after`) when their
      // upstream run ends, so it gets only those (and no cron code); cancel gets none. Only the check
      // bundle serves the console page.
      define: {
        __JOBS__: JSON.stringify(jobsFor(fn, loaded.jobs)),
        ...(fn === 'check' && page !== undefined
          ? { __CONSOLE_PAGE__: JSON.stringify({ html: page.html, csp: page.csp, etag: page.etag }) }
          : {}),
      },
    });
    writeFileSync(join(fnDir, 'meta.json'), JSON.stringify(result.metafile));
    const code = readFileSync(outfile);
    const zip = zipSync({ 'index.js': [code, { level: 9, mtime: new Date('2020-01-01T00:00:00Z') }] });
    writeFileSync(join(outDir, `${fn}.zip`), zip);
    results.push({ fn, bytes: statSync(outfile).size, zipBytes: zip.length });
  }
  if (!quiet) {
    const jobsNote = `${loaded.jobs.length} job(s) from ${loaded.path.replace(`${root}/`, '')}`;
    console.log(`built ${FUNCTIONS.length} bundles into ${outDir.replace(`${root}/`, '')} (${jobsNote})`);
    for (const r of results) {
      console.log(
        `  ${r.fn.padEnd(8)} index.js ${(r.bytes / 1024).toFixed(1).padStart(7)} KB   zip ${(r.zipBytes / 1024).toFixed(1).padStart(6)} KB`,
      );
    }
  }
  return results;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  build().catch((error) => {
    console.error(`build failed: ${error.message}`);
    process.exit(1);
  });
}
