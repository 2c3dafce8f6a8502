import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { BUNDLE_ENTRY, checkArtifact } from '../../deploy/preflight.ts';
import { listZipEntries } from '../../deploy/zip-entries.ts';
import { crc32, makeZip } from './zip-fixture.ts';

const root = join(import.meta.dirname, '..', '..');
const FUNCTIONS = ['execute', 'check', 'cancel'] as const;

describe('the zip reader', () => {
  it('lists the entries of a zip with their sizes and checksums', () => {
    const zip = makeZip({ 'index.js': 'exports.handler = 1;', 'lib/a.txt': 'abc' });
    assert.deepEqual(listZipEntries(zip), [
      { name: 'index.js', size: 20, crc32: crc32(Buffer.from('exports.handler = 1;')) },
      { name: 'lib/a.txt', size: 3, crc32: crc32(Buffer.from('abc')) },
    ]);
  });

  it('finds the central directory behind an archive comment', () => {
    const zip = makeZip({ 'index.js': 'x' }, 'built by a test');
    assert.deepEqual(
      listZipEntries(zip).map((e) => e.name),
      ['index.js'],
    );
  });

  it('refuses a buffer that is not a zip', () => {
    assert.throws(() => listZipEntries(Buffer.from('just some text, long enough to scan')), /not a zip/);
    assert.throws(() => listZipEntries(Buffer.alloc(3)), /too short/);
  });
});

describe('the artifact check', () => {
  it('accepts a zip holding only index.js at its root', () => {
    assert.deepEqual(
      checkArtifact('dist/execute.zip', 100, listZipEntries(makeZip({ 'index.js': 'x' }))),
      [],
    );
  });

  it('names a package.json, node_modules, a source map and a misplaced entry point', () => {
    const zip = makeZip({
      'execute/index.js': 'x',
      'package.json': '{}',
      'node_modules/undici/index.js': 'x',
      'index.js.map': '{}',
    });
    const problems = checkArtifact('dist/execute.zip', 100, listZipEntries(zip));
    assert.equal(problems.length, 5, problems.join('\n'));
    assert.match(problems[0] ?? '', /has no index\.js at its root/);
    assert.ok(problems.some((p) => /package\.json; the platform would run npm ci/.test(p)));
    assert.ok(
      problems.some((p) => /node_modules\/undici\/index\.js; the bundle must be self-contained/.test(p)),
    );
    assert.ok(problems.some((p) => /index\.js\.map; only index\.js belongs/.test(p)));
    assert.ok(problems.some((p) => /execute\/index\.js; only index\.js belongs/.test(p)));
  });

  it('warns that a zip of 3.5 MB or more needs a bucket upload', () => {
    const problems = checkArtifact(
      'dist/check.zip',
      3.5 * 1024 * 1024,
      listZipEntries(makeZip({ 'index.js': 'x' })),
    );
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /over the 3\.5 MB direct-upload limit/);
  });
});

describe('the built artifacts (dist/<fn>.zip from build.mjs)', () => {
  const zipPath = (fn: string): string => join(root, 'dist', `${fn}.zip`);
  const haveBuild = existsSync(join(root, 'build.mjs'));
  const skip = haveBuild ? false : 'build.mjs is not in the repository yet';

  before(() => {
    if (!haveBuild || FUNCTIONS.every((fn) => existsSync(zipPath(fn)))) return;
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'build.mjs'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(result.status, 0, `node --import tsx build.mjs failed:\n${result.stderr}`);
  });

  for (const fn of FUNCTIONS) {
    it(`dist/${fn}.zip holds exactly the ${fn} bundle as index.js at its root`, { skip }, () => {
      const entries = listZipEntries(readFileSync(zipPath(fn)));
      assert.deepEqual(
        entries.map((e) => e.name),
        [BUNDLE_ENTRY],
      );
      assert.deepEqual(checkArtifact(`dist/${fn}.zip`, statSync(zipPath(fn)).size, entries), []);
      const bundle = readFileSync(join(root, 'dist', fn, 'index.js'));
      assert.equal(
        entries[0]?.size,
        bundle.length,
        'the zipped index.js differs in size from dist/<fn>/index.js',
      );
      assert.equal(entries[0]?.crc32, crc32(bundle), 'the zipped index.js differs from dist/<fn>/index.js');
    });
  }

  it('gives each function a different bundle', { skip }, () => {
    const checksums = FUNCTIONS.map((fn) => listZipEntries(readFileSync(zipPath(fn)))[0]?.crc32);
    assert.equal(new Set(checksums).size, FUNCTIONS.length);
  });
});
