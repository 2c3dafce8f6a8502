/**
 * The built bundles one test file runs: built once before its suites, removed after them. Suites read
 * them through the returned accessor (they exist only once the file's `before` has run).
 */
import { after, before } from 'node:test';
import { type BuildOptions, type BuiltBundles, buildBundles } from './harness.ts';

export function bundlesForTestFile(options: Omit<BuildOptions, 'dir'> = {}): () => BuiltBundles {
  let bundles: BuiltBundles | undefined;
  before(async () => {
    bundles = await buildBundles(options);
  });
  after(() => {
    bundles?.remove();
  });
  return () => {
    if (bundles === undefined) throw new Error('the bundles were not built');
    return bundles;
  };
}
