#!/usr/bin/env node
// The `datasphere-runner` command (package.json "bin"; `npx datasphere-runner` in a checkout).
//
// The CLI is TypeScript (cli/main.ts). Loading it through tsx costs ≈0.5 s on every call, so this
// launcher compiles it once with esbuild (a devDependency, like tsx) into .local/cli/ and runs the
// compiled copy, ≈0.15 s. The copy is used only while every file it was built from is unchanged
// (esbuild's metafile lists them; their size and mtime are compared on each start); otherwise it is
// rebuilt. If the copy cannot be built or written, the CLI runs through tsx instead, just slower.
// The CLI is a development tool: nothing here is bundled into the functions.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const cacheDir = process.env.DATASPHERE_RUNNER_CLI_CACHE || join(root, '.local', 'cli');
const manifestPath = join(cacheDir, 'current.json');

/** The compiled entry, if it was built from exactly the files on disk now. */
function freshBuild() {
  try {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    for (const [file, size, mtimeMs] of manifest.inputs) {
      const stat = statSync(resolve(root, file));
      if (stat.size !== size || stat.mtimeMs !== mtimeMs) return undefined;
    }
    return join(cacheDir, manifest.dir, 'main.js');
  } catch {
    return undefined;
  }
}

async function build() {
  const { build: esbuild } = await import('esbuild');
  const dir = `build-${process.pid}-${Date.now().toString(36)}`;
  const outdir = join(cacheDir, dir);
  mkdirSync(outdir, { recursive: true });
  writeFileSync(join(outdir, 'package.json'), '{"type": "module"}\n');
  const result = await esbuild({
    absWorkingDir: root,
    entryPoints: [join(here, 'main.ts')],
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outdir,
    // Packages (yaml, croner) stay in node_modules and load only when a command needs them.
    packages: 'external',
    metafile: true,
    logLevel: 'silent',
    define: {
      __CLI_VERSION__: JSON.stringify(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version),
    },
  });
  // package.json too: its version is compiled in.
  const inputs = [...Object.keys(result.metafile.inputs), 'package.json'].map((file) => {
    const stat = statSync(resolve(root, file));
    return [file, stat.size, stat.mtimeMs];
  });
  // Written whole, then renamed: a concurrent start reads the old manifest or the new one, never half.
  const temp = `${manifestPath}.${process.pid}`;
  writeFileSync(temp, JSON.stringify({ dir, inputs }));
  renameSync(temp, manifestPath);
  removeOldBuilds(dir);
  return join(outdir, 'main.js');
}

/**
 * Removes earlier copies, but only once they are old: a CLI started a moment ago may still be loading
 * one (two starts after an edit both build, and the second must not pull the first one's copy away).
 */
function removeOldBuilds(keep) {
  const before = Date.now() - 10 * 60_000;
  for (const entry of readdirSync(cacheDir)) {
    if (!entry.startsWith('build-') || entry === keep) continue;
    try {
      if (statSync(join(cacheDir, entry)).mtimeMs < before) {
        rmSync(join(cacheDir, entry), { recursive: true, force: true });
      }
    } catch {
      // Removed by another start meanwhile.
    }
  }
}

async function load() {
  let entry = freshBuild();
  if (entry === undefined) {
    try {
      entry = await build();
    } catch {
      entry = undefined;
    }
  }
  if (entry !== undefined) return import(pathToFileURL(entry).href);
  const { register } = await import('tsx/esm/api');
  register();
  return import('./main.ts');
}

const { runCli, processIo } = await load();
process.exitCode = await runCli(process.argv.slice(2), processIo());
