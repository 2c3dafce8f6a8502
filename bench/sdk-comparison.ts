// Builds the bench's comparison handlers with the functions' esbuild settings: the empty baseline and
// bench/sdk-handler.ts on @yandex-cloud/nodejs-sdk. The SDK (79 MB, 60+ packages) is not a project
// dependency: it is installed on demand, from bench/sdk/package.json and its lockfile, into a temp dir
// that later runs reuse (bench/pinned-install.ts), so `npm ci` (and CI) never downloads it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { ESBUILD_OPTIONS } from '../build.mjs';
import { installPinned } from './pinned-install.ts';

const SDK_SPEC = join(import.meta.dirname, 'sdk');

export interface BuiltHandler {
  readonly file: string;
  readonly bytes: number;
  /** The largest packages in the bundle (from the metafile), KB. */
  readonly top: readonly { readonly name: string; readonly kb: number }[];
}

/** The packages (or our own top folders) that make up a bundle, largest first, from its metafile. */
export function bundleComposition(metafile: esbuild.Metafile): { name: string; kb: number }[] {
  const output = Object.values(metafile.outputs)[0];
  const sizes = new Map<string, number>();
  for (const [path, input] of Object.entries(output?.inputs ?? {})) {
    const parts = path.split('/');
    const at = parts.lastIndexOf('node_modules');
    const name =
      at >= 0
        ? parts[at + 1]?.startsWith('@')
          ? `${parts[at + 1]}/${parts[at + 2]}`
          : (parts[at + 1] ?? path)
        : parts.slice(0, 2).join('/');
    sizes.set(name, (sizes.get(name) ?? 0) + input.bytesInOutput);
  }
  return [...sizes].map(([name, bytes]) => ({ name, kb: bytes / 1024 })).sort((a, b) => b.kb - a.kb);
}

async function buildOne(entry: string, outDir: string, nodePaths: string[] = []): Promise<BuiltHandler> {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'index.js');
  const result = await esbuild.build({ ...ESBUILD_OPTIONS, entryPoints: [entry], outfile: file, nodePaths });
  writeFileSync(join(outDir, 'meta.json'), JSON.stringify(result.metafile));
  const output = Object.values(result.metafile.outputs)[0];
  return { file, bytes: output?.bytes ?? 0, top: bundleComposition(result.metafile).slice(0, 6) };
}

/** Builds bench/empty-handler.ts into `<outDir>/empty`. */
export function buildEmptyHandler(outDir: string): Promise<BuiltHandler> {
  return buildOne(join(import.meta.dirname, 'empty-handler.ts'), join(outDir, 'empty'));
}

/** Installs the pinned SDK into a temp dir (once per lockfile); returns its node_modules. */
export async function ensureSdk(log: (line: string) => void): Promise<string> {
  const marker = join('@yandex-cloud', 'nodejs-sdk', 'package.json');
  return (await installPinned(SDK_SPEC, 'datasphere-runner-bench-sdk', marker, log)).modules;
}

/** Builds bench/sdk-handler.ts into `<outDir>/sdk` against the on-demand SDK install. */
export async function buildSdkHandler(outDir: string, log: (line: string) => void): Promise<BuiltHandler> {
  const modules = await ensureSdk(log);
  return buildOne(join(import.meta.dirname, 'sdk-handler.ts'), join(outDir, 'sdk'), [modules]);
}
