import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build, type Metafile } from 'esbuild';
import { BUNDLE_PLUGINS, ESBUILD_OPTIONS } from '../../build.mjs';

const root = join(import.meta.dirname, '..', '..');

/**
 * The transport as the function bundles carry it: shared/api/undici-dispatcher.ts bundled with the
 * build's settings and plugins. The metafile must hold undici's Agent and request API with the SIMD
 * parser only (no package entry, no fetch, no mocks, no HTTP/2), and the bundle must still talk HTTP.
 */
describe('the bundled transport (build.mjs settings and plugins)', () => {
  let dir: string;
  let inputs: Metafile['inputs'];
  let bundleFile: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bundle-transport-'));
    bundleFile = join(dir, 'transport.cjs');
    const result = await build({
      ...ESBUILD_OPTIONS,
      plugins: [...BUNDLE_PLUGINS],
      stdin: {
        contents: "export { createDispatcher } from './shared/api/undici-dispatcher.ts';",
        resolveDir: root,
        loader: 'ts',
        sourcefile: 'transport-entry.ts',
      },
      outfile: bundleFile,
    });
    inputs = result.metafile.inputs;
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  const undiciFiles = () =>
    Object.keys(inputs)
      .filter((path) => path.includes('node_modules/undici/'))
      .map((path) => path.slice(path.indexOf('node_modules/undici/') + 'node_modules/undici/'.length));

  it('holds the Agent, the request API and the SIMD parser, and none of the package entry', () => {
    const files = undiciFiles();
    for (const needed of [
      'lib/dispatcher/agent.js',
      'lib/dispatcher/pool.js',
      'lib/dispatcher/client-h1.js',
      'lib/api/api-request.js',
      'lib/llhttp/llhttp_simd-wasm.js',
    ]) {
      assert.ok(files.includes(needed), `${needed} is missing from the bundle`);
    }
    for (const unwanted of ['index.js', 'lib/global.js', 'lib/web/fetch/index.js', 'lib/api/index.js']) {
      assert.ok(!files.includes(unwanted), `${unwanted} is in the bundle`);
    }
    const unwantedDirs = ['lib/mock/', 'lib/cache/', 'lib/interceptor/', 'lib/web/webidl/'];
    for (const prefix of unwantedDirs) {
      assert.deepEqual(
        files.filter((file) => file.startsWith(prefix)),
        [],
        `${prefix} is in the bundle`,
      );
    }
  });

  it('keeps only a stub of the non-SIMD parser, FormData bodies and HTTP/2', () => {
    for (const stubbed of [
      'lib/llhttp/llhttp-wasm.js',
      'lib/web/fetch/body.js',
      'lib/dispatcher/client-h2.js',
    ]) {
      const entry = Object.entries(inputs).find(([path]) => path.endsWith(`node_modules/undici/${stubbed}`));
      assert.ok(entry, `${stubbed} is not in the metafile`);
      assert.ok(entry[1].bytes < 400, `${stubbed} is ${entry[1].bytes} bytes, not a stub`);
      assert.deepEqual(entry[1].imports, [], `${stubbed} still imports modules`);
    }
  });

  it('sends a POST and reads the answer from the bundled code', async () => {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      req.on('end', () => res.end(JSON.stringify({ method: req.method, body })));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const script = join(dir, 'call.cjs');
    writeFileSync(
      script,
      `const { createDispatcher } = require(${JSON.stringify(bundleFile)});
const d = createDispatcher();
d.request({ origin: ${JSON.stringify(origin)}, path: '/x', method: 'POST', body: '{"a":1}' })
  .then((res) => res.body.text())
  .then((text) => { process.stdout.write(text); return d.close(); });`,
    );
    try {
      // Run asynchronously: the server answers from this process's event loop.
      const child = await new Promise<{ status: number | null; stdout: string; stderr: string }>(
        (resolve) => {
          const proc = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
          let stdout = '';
          let stderr = '';
          proc.stdout.on('data', (chunk: Buffer) => {
            stdout += chunk.toString();
          });
          proc.stderr.on('data', (chunk: Buffer) => {
            stderr += chunk.toString();
          });
          proc.on('close', (status) => resolve({ status, stdout, stderr }));
        },
      );
      assert.equal(child.status, 0, child.stderr);
      assert.deepEqual(JSON.parse(child.stdout), { method: 'POST', body: '{"a":1}' });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
