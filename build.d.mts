// Types of build.mjs for the TypeScript callers (local runner, tests, bench).
export declare const FUNCTIONS: readonly ['execute', 'check', 'cancel'];
/** The esbuild settings shared by the function bundles and the bench's comparison handlers. */
export declare const ESBUILD_OPTIONS: Readonly<{
  bundle: true;
  platform: 'node';
  format: 'cjs';
  target: 'node22';
  minify: true;
  metafile: true;
  legalComments: 'eof';
  logLevel: 'warning';
}>;
export interface BuiltBundle {
  readonly fn: string;
  readonly bytes: number;
  readonly zipBytes: number;
}
export declare function build(options?: {
  outDir?: string;
  quiet?: boolean;
  /** false: the check bundle without the web console (for the bench). @default true */
  webConsole?: boolean;
}): Promise<BuiltBundle[]>;
/** esbuild plugin: replaces the undici files the functions never run (non-SIMD parser, FormData bodies, HTTP/2). */
export declare const trimUndici: Readonly<{
  name: string;
  setup(build: import('esbuild').PluginBuild): void;
}>;
/** The plugins of the function bundles. */
export declare const BUNDLE_PLUGINS: readonly Readonly<{
  name: string;
  setup(build: import('esbuild').PluginBuild): void;
}>[];
/** The jobs embedded into the bundle of `fn`: scheduled ones into execute, chained ones (`after`) into check. */
export declare function jobsFor<J extends { schedule?: string; after?: unknown }>(
  fn: string,
  jobs: readonly J[],
): J[];
