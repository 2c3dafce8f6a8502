// Types of build.mjs for the TypeScript callers (local runner, tests, bench).
export declare const FUNCTIONS: readonly ['execute', 'check', 'cancel'];
export interface BuiltBundle {
  readonly fn: string;
  readonly bytes: number;
  readonly zipBytes: number;
}
export declare function build(options?: { outDir?: string; quiet?: boolean }): Promise<BuiltBundle[]>;
