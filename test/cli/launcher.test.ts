import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const root = join(import.meta.dirname, '..', '..');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

function launch(cache: string, args: string[]) {
  const result = spawnSync(process.execPath, [join(root, 'cli', 'datasphere-runner.mjs'), ...args], {
    cwd: root,
    env: { ...process.env, DATASPHERE_RUNNER_CLI_CACHE: cache },
    encoding: 'utf8',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface Manifest {
  dir: string;
  inputs: [string, number, number][];
}

describe('the datasphere-runner launcher (cli/datasphere-runner.mjs)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-launcher-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('compiles the CLI once, reuses the copy while its sources are unchanged, and rebuilds when one changes', () => {
    const cache = join(dir, 'cache');
    const first = launch(cache, ['--version']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, `${version}\n`);
    const manifestPath = join(cache, 'current.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
    const files = manifest.inputs.map(([file]) => file);
    assert.ok(files.includes('cli/main.ts'), files.join(' '));
    assert.ok(files.includes('shared/core/run-record.ts'));
    assert.ok(files.includes('package.json'), 'the version is compiled in');
    assert.ok(!files.some((f) => f.includes('node_modules')), 'packages stay external');

    const second = launch(cache, ['--version']);
    assert.equal(second.code, 0);
    assert.equal((JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest).dir, manifest.dir);

    // As if cli/main.ts had been edited since: its recorded size no longer matches the file.
    const stale: Manifest = {
      dir: manifest.dir,
      inputs: manifest.inputs.map(([file, size, mtime]) => [
        file,
        file === 'cli/main.ts' ? size + 1 : size,
        mtime,
      ]),
    };
    writeFileSync(manifestPath, JSON.stringify(stale));
    const third = launch(cache, ['--version']);
    assert.equal(third.code, 0, third.stderr);
    const rebuilt = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
    assert.notEqual(rebuilt.dir, manifest.dir);
    assert.ok(existsSync(join(cache, rebuilt.dir, 'main.js')));
    // The previous copy stays a while (a CLI started a moment ago may be loading it), then goes.
    assert.ok(existsSync(join(cache, manifest.dir)));
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(cache, manifest.dir), hourAgo, hourAgo);
    writeFileSync(manifestPath, JSON.stringify({ ...rebuilt, inputs: [['package.json', -1, 0]] }));
    const fourth = launch(cache, ['--version']);
    assert.equal(fourth.code, 0, fourth.stderr);
    assert.ok(!existsSync(join(cache, manifest.dir)), 'an old copy is removed');
  });

  it('two CLIs started at once on an empty cache both run (each builds, neither removes the other copy)', async () => {
    const cache = join(dir, 'race');
    const start = () =>
      new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, [join(root, 'cli', 'datasphere-runner.mjs'), '--version'], {
          cwd: root,
          env: { ...process.env, DATASPHERE_RUNNER_CLI_CACHE: cache },
          stdio: 'ignore',
        });
        child.once('close', resolve);
      });
    for (let round = 0; round < 3; round++) {
      rmSync(cache, { recursive: true, force: true });
      const codes = await Promise.all([start(), start(), start()]);
      assert.deepEqual(codes, [0, 0, 0], `round ${round}`);
    }
  });

  it('runs the CLI from source when no copy can be written, and passes the exit code on', () => {
    const blocked = join(dir, 'a-file');
    writeFileSync(blocked, '');
    const result = launch(join(blocked, 'cache'), ['lsit']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown command "lsit" \(did you mean list\?\)/);
  });
});
