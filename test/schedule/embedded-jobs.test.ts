import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { getEmbeddedJobs } from '../../shared/schedule/embedded-jobs.ts';
import type { JobDefinition } from '../../shared/schedule/jobs-file.ts';
import { loadJobsFile } from '../../shared/schedule/jobs-file-loader.ts';
import type { TickPlanEntry } from '../../shared/schedule/tick-plan.ts';

const root = join(import.meta.dirname, '..', '..');

/** Accepts any object run: this test is about embedding, not run validation. */
const deps = { parseRunRequest: (value: unknown) => value };

interface Bundle {
  readonly getEmbeddedJobs: typeof getEmbeddedJobs;
  readonly planTick: (jobs: readonly JobDefinition[], now: Date) => TickPlanEntry[];
  readonly slotDedupeKey: (name: string, slot: Date) => string;
}

/** Bundles the schedule runtime the way build.mjs bundles the execute function. */
async function bundle(jobs: readonly JobDefinition[] | undefined, outDir: string, name: string) {
  const result = await build({
    stdin: {
      contents: [
        "export { getEmbeddedJobs } from './shared/schedule/embedded-jobs.ts';",
        "export { planTick, slotDedupeKey } from './shared/schedule/tick-plan.ts';",
      ].join('\n'),
      resolveDir: root,
      loader: 'ts',
      sourcefile: 'schedule-entry.ts',
    },
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    metafile: true,
    logLevel: 'silent',
    ...(jobs === undefined ? {} : { define: { __JOBS__: JSON.stringify(jobs) } }),
  });
  const code = result.outputFiles[0]?.text ?? '';
  const file = join(outDir, `${name}.cjs`);
  writeFileSync(file, code);
  const loaded = createRequire(file)(file) as Bundle;
  return { loaded, code, inputs: Object.keys(result.metafile.inputs) };
}

describe('getEmbeddedJobs', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'embedded-jobs-test-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers no jobs when nothing was embedded (running from source)', () => {
    assert.deepEqual(getEmbeddedJobs(), []);
  });

  it('answers the jobs a build embedded with define, and the bundle plans them', async () => {
    const jobs = loadJobsFile(join(root, 'jobs.example.yaml'), deps, { mustExist: true });
    const { loaded } = await bundle(jobs, dir, 'with-jobs');
    assert.deepEqual(loaded.getEmbeddedJobs(), jobs);
    const plan = loaded.planTick(loaded.getEmbeddedJobs(), new Date('2024-05-10T03:05:00Z'));
    const nightly = plan.find((e) => e.job.name === 'nightly-train');
    assert.deepEqual(nightly?.slot?.toISOString(), '2024-05-10T03:00:00.000Z');
    assert.equal(nightly && 'skipped' in nightly, false);
    assert.equal(
      loaded.slotDedupeKey('nightly-train', new Date('2024-05-10T03:00:00Z')),
      'schedule:nightly-train:2024-05-10T03:00Z',
    );
  });

  it('answers no jobs from a bundle built without define', async () => {
    const { loaded } = await bundle(undefined, dir, 'without-jobs');
    assert.deepEqual(loaded.getEmbeddedJobs(), []);
  });

  it('keeps yaml, the loader and the validator out of the bundle, and croner in it', async (t) => {
    const { code, inputs } = await bundle([], dir, 'contents');
    assert.ok(
      inputs.some((p) => p.includes('node_modules/croner/')),
      'croner is bundled',
    );
    assert.deepEqual(
      inputs.filter((p) => p.includes('node_modules/yaml/') || /jobs-file(-loader)?\.ts$/.test(p)),
      [],
    );
    t.diagnostic(`schedule runtime bundle, minified: ${(code.length / 1024).toFixed(1)} KB`);
    // croner alone is about 33 KB minified; yaml would add about 100 KB more.
    assert.ok(code.length < 60 * 1024, `bundle is ${code.length} bytes`);
  });
});
