// `npm run bench` (after `npm run build`): cold start, sweep throughput, ledger scaling, API economy and
// the SDK comparison row, printed as one table and written as markdown to bench/results.md. Exits 1 when
// a budget is broken (a row that could not be measured says so and neither passes nor fails).
//
// This machine is shared and noisy, so: cold start is counted in CPU instructions (callgrind, node
// --jitless), not wall time; sweep timings are medians of alternating repeats, compared within one run.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FUNCTIONS } from '../build.mjs';
import { loadConfig } from '../shared/config.ts';
import type { CoreSettings } from '../shared/core/ports.ts';
import { simulateEconomy } from './api-economy.ts';
import {
  countInstructions,
  fileBytes,
  type LoadCount,
  limited,
  valgrindVersion,
  wallTimeMs,
} from './cold-start.ts';
import {
  bounded,
  count,
  info,
  kb,
  markdownTable,
  mb,
  mInstr,
  ms,
  type Row,
  seconds,
  textTable,
  times,
} from './results-table.ts';
import {
  type BuiltHandler,
  buildEmptyHandler,
  buildSdkHandler,
  bundleComposition,
} from './sdk-comparison.ts';
import { runSweepBenchmarks } from './sweep-bench.ts';

/** Budgets from the issue "Benchmarks and a performance budget". */
export const BUDGET = {
  bundleBytes: 300 * 1024,
  coldStartInstructions: 170e6,
  dueSweepMs: 400,
  historyRatio: 1.2,
  peakRssBytes: 128 * 1024 * 1024,
  getsPerHourRun: 60,
  finishDelaySeconds: 70,
} as const;

const root = join(import.meta.dirname, '..');
const dist = join(root, process.env.BUILD_OUT_DIR ?? 'dist');
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const rows: Row[] = [];
const notes: string[] = [];
const errorText = (error: unknown) =>
  (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';

/** What the first invocation of every function loads on top of the bundle: the client for https APIs. */
const FIRST_CALL_MODULES = ['node:https'];

async function coldStart(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'datasphere-runner-bench-build-'));
  try {
    writeFileSync(join(scratch, 'package.json'), '{"type": "commonjs"}\n');
    const empty = await buildEmptyHandler(scratch);
    let sdk: BuiltHandler | undefined;
    let sdkWhy = 'not measured';
    try {
      sdk = await buildSdkHandler(scratch, log);
    } catch (error) {
      sdkWhy = `not measured: ${errorText(error)}`;
      log(`SDK comparison row skipped: ${errorText(error)}`);
    }
    const bundles = FUNCTIONS.map((fn) => ({ fn, file: join(dist, fn, 'index.js') }));
    const version = valgrindVersion();

    if (version === undefined) {
      log('valgrind is not installed: cold start falls back to wall-time ratios; its budget is NOT checked');
      notes.push(
        'valgrind was not found, so cold start was timed (median wall time of 15 `node -e require()`), ' +
          'shown as a ratio to the empty handler; the instruction budget was not measured.',
      );
      const base = await wallTimeMs(empty.file);
      for (const { fn, file } of bundles) {
        rows.push(bounded(`${fn}: bundle size`, fileBytes(file), BUDGET.bundleBytes, kb));
        const wall = await wallTimeMs(file, 15, FIRST_CALL_MODULES);
        rows.push(
          info(`${fn}: cold start, wall time incl. https client`, `${times(wall / base)} empty handler`),
        );
        rows.push(
          bounded(
            `${fn}: cold start (require), instructions over empty`,
            undefined,
            BUDGET.coldStartInstructions,
            mInstr,
            'not measured (no valgrind)',
          ),
        );
      }
      if (sdk !== undefined) {
        const wall = await wallTimeMs(sdk.file);
        rows.push(info('SDK handler: bundle size', kb(sdk.bytes)));
        rows.push(info('SDK handler: cold start, wall time', `${times(wall / base)} empty handler`));
      }
      return;
    }

    log(`cold start: callgrind (${version}), 2 at a time`);
    type Job = { key: string; file: string; extra: readonly string[] };
    const jobs: Job[] = [
      { key: 'empty', file: empty.file, extra: [] },
      { key: 'empty#2', file: empty.file, extra: [] },
      ...bundles.flatMap(({ fn, file }) => [
        { key: fn, file, extra: [] },
        { key: `${fn}+https`, file, extra: FIRST_CALL_MODULES },
      ]),
      ...(sdk === undefined
        ? []
        : [
            { key: 'sdk', file: sdk.file, extra: [] },
            { key: 'sdk+https', file: sdk.file, extra: FIRST_CALL_MODULES },
          ]),
    ];
    const counts = new Map<string, LoadCount>();
    const done = await limited(
      jobs.map((job) => async () => [job.key, await countInstructions(job.file, job.extra)] as const),
      2,
    );
    for (const [key, value] of done) counts.set(key, value);
    const base = Math.min(counts.get('empty')?.instructions ?? 0, counts.get('empty#2')?.instructions ?? 0);
    const noise = Math.abs(
      (counts.get('empty')?.instructions ?? 0) - (counts.get('empty#2')?.instructions ?? 0),
    );
    rows.push(info('empty handler: node start + require (baseline)', `${(base / 1e6).toFixed(0)} M instr`));
    notes.push(
      `Cold start = instructions of \`node --jitless -e "require(bundle)"\` under callgrind minus the same for ` +
        `an empty handler; two baseline runs differed by ${(noise / 1e6).toFixed(1)} M. "incl. https client" also ` +
        'requires `node:https`, which the dispatcher loads on the first API call (every real invocation makes one).',
    );
    const over = (key: string) => {
      const c = counts.get(key);
      if (c?.loadError !== undefined) {
        notes.push(
          `${key}: the load printed an error under --jitless (${c.loadError}); the work that failed is not ` +
            'counted, so its real figure is higher.',
        );
      }
      return c === undefined ? undefined : c.instructions - base;
    };
    for (const { fn, file } of bundles) {
      rows.push(bounded(`${fn}: bundle size`, fileBytes(file), BUDGET.bundleBytes, kb));
      rows.push(bounded(`${fn}: cold start (require)`, over(fn), BUDGET.coldStartInstructions, mInstr));
      rows.push(
        bounded(
          `${fn}: cold start incl. https client`,
          over(`${fn}+https`),
          BUDGET.coldStartInstructions,
          mInstr,
        ),
      );
      const meta = JSON.parse(readFileSync(join(dist, fn, 'meta.json'), 'utf8'));
      const top = bundleComposition(meta)
        .slice(0, 5)
        .map((p) => `${p.name} ${p.kb.toFixed(1)}`)
        .join(', ');
      notes.push(`${fn} bundle, largest parts (KB): ${top}.`);
    }
    if (sdk === undefined) {
      rows.push(info('SDK handler (@yandex-cloud/nodejs-sdk): bundle size', sdkWhy));
    } else {
      const execute = fileBytes(join(dist, 'execute', 'index.js'));
      rows.push(
        info(
          'SDK handler (@yandex-cloud/nodejs-sdk): bundle size',
          `${kb(sdk.bytes)} (${times(sdk.bytes / execute)} execute)`,
        ),
      );
      const sdkOver = over('sdk');
      const executeOver = over('execute+https');
      rows.push(
        info(
          'SDK handler: cold start (require)',
          sdkOver === undefined ? 'not measured' : `${mInstr(sdkOver)}`,
        ),
      );
      const sdkHttps = over('sdk+https');
      rows.push(
        info(
          'SDK handler: cold start incl. https client',
          sdkHttps === undefined || executeOver === undefined
            ? 'not measured'
            : `${mInstr(sdkHttps)} (${times(sdkHttps / executeOver)} execute)`,
        ),
      );
      notes.push(
        `SDK handler bundle, largest parts (KB): ${sdk.top.map((p) => `${p.name} ${p.kb.toFixed(0)}`).join(', ')}.`,
      );
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** tmpfs when there is one: the file ledger fsyncs ~3 times per update, and this VM's disk would dominate. */
function scratchDir(): { dir: string; label: string } {
  try {
    const probe = mkdtempSync('/dev/shm/datasphere-runner-probe-');
    rmSync(probe, { recursive: true, force: true });
    return { dir: '/dev/shm', label: 'file ledger on tmpfs' };
  } catch {
    return { dir: tmpdir(), label: `file ledger in ${tmpdir()}` };
  }
}

async function sweeps(): Promise<void> {
  const scratch = scratchDir();
  const figures = await runSweepBenchmarks({
    distDir: dist,
    scratchDir: scratch.dir,
    repeats: 7,
    progress: log,
  });
  rows.push(
    bounded(
      `check: one sweep of 300 due runs, 20 ms API latency (${scratch.label})`,
      figures.dueSweepMs,
      BUDGET.dueSweepMs,
      ms,
    ),
  );
  rows.push(
    bounded(
      'check: the same with 10,000 finished runs in the ledger, ratio',
      figures.withHistoryMs / figures.dueSweepMs,
      BUDGET.historyRatio,
      times,
    ),
  );
  rows.push(
    bounded(
      `check: peak RSS of one sweep over 10,000 running runs (checked ${figures.openChecked})`,
      figures.peakRssBytes,
      BUDGET.peakRssBytes,
      mb,
    ),
  );
  notes.push(
    `Sweeps: the built check bundle in its own node process (bench/function-child.cjs) on a timer event, ` +
      `against the emulator with a 20 ms latency fault on every request, ${scratch.label}; medians of 7 ` +
      `alternating repeats on instances warmed by 2 sweeps (all repeats, ms: 300 due ${figures.dueSweepRepeats.join(', ')}; ` +
      `with history ${figures.withHistoryRepeats.join(', ')}). One after another, 300 Operation.Get calls ` +
      `alone would take 6 s. The 10,000-run sweep took ${figures.openSweepMs} ms on a fresh instance, reading ` +
      `the due runs 500 at a time.`,
  );
}

function configuredSettings(): Partial<CoreSettings> {
  const config = loadConfig({ RUN_STORE: 'file:/tmp/unused' });
  return {
    checkFirstDelaySeconds: config.checkFirstDelaySeconds,
    checkIntervalSeconds: config.checkIntervalSeconds,
    checkMaxIntervalSeconds: config.checkMaxIntervalSeconds,
    checkBackoffFactor: config.checkBackoffFactor,
    checkDueSlackSeconds: config.checkDueSlackSeconds,
    notFoundGraceSeconds: config.notFoundGraceSeconds,
  };
}

async function economy(): Promise<void> {
  const settings = configuredSettings();
  const hour = await simulateEconomy({ settings });
  rows.push(
    bounded(
      'Operation.Get calls for a one-hour run (max over 120 tick phases)',
      hour.maxGets,
      BUDGET.getsPerHourRun,
      count,
    ),
  );
  rows.push(
    bounded(
      'finish → ledger knows, one-hour run (max over phases)',
      hour.maxDelaySeconds,
      BUDGET.finishDelaySeconds,
      seconds,
    ),
  );
  const late = await simulateEconomy({ settings, jitterSeconds: 10 });
  const short = await simulateEconomy({ settings, runSeconds: 30 });
  const eager = { ...settings, checkFirstDelaySeconds: 0 };
  const what = await simulateEconomy({ settings: eager });
  const whatShort = await simulateEconomy({ settings: eager, runSeconds: 30 });
  notes.push(
    `API economy: the core (startRun + sweep) with the configured defaults (first check ` +
      `${settings.checkFirstDelaySeconds} s after the start, then ${settings.checkIntervalSeconds} s ` +
      `×${settings.checkBackoffFactor} up to ${settings.checkMaxIntervalSeconds} s, due slack ` +
      `${settings.checkDueSlackSeconds} s), a fake Operation API and a simulated clock, one check per minute. ` +
      `Gets per one-hour run: ${hour.minGets}..${hour.maxGets}; with ticks up to 10 s late: ${late.maxGets} Gets, ` +
      `${late.maxDelaySeconds.toFixed(1)} s. A 30 s run is known ${short.maxDelaySeconds.toFixed(1)} s after it ends. ` +
      `With CHECK_FIRST_DELAY_SECONDS=0 (checked at the first sweep after its start): ${what.maxGets} Gets per ` +
      `one-hour run, a 30 s run known ${whatShort.maxDelaySeconds.toFixed(1)} s after it ends.`,
  );
}

async function main(): Promise<number> {
  const started = performance.now();
  for (const [name, section] of [
    ['cold start', coldStart],
    ['sweep', sweeps],
    ['API economy', economy],
  ] as const) {
    try {
      await section();
    } catch (error) {
      log(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      rows.push({
        metric: `${name}: the benchmark itself failed`,
        value: errorText(error),
        budget: '',
        verdict: 'FAIL',
      });
    }
  }
  const failed = rows.filter((row) => row.verdict === 'FAIL');
  const unmeasured = rows.filter((row) => row.verdict === 'not measured');
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  const header =
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench\`: node ${process.version}, ` +
    `${availableParallelism()} cores, ${valgrindVersion() ?? 'no valgrind'}; took ${seconds} s.`;
  process.stdout.write(`\n${textTable(rows)}\n\n`);
  for (const note of notes) process.stdout.write(`- ${note}\n`);
  const verdict = failed.length === 0 ? 'all measured budgets hold' : `${failed.length} budget(s) broken`;
  process.stdout.write(
    `\n${verdict}${unmeasured.length > 0 ? `; ${unmeasured.length} not measured` : ''} (${seconds} s)\n`,
  );
  writeFileSync(
    join(import.meta.dirname, 'results.md'),
    `# Benchmark results\n\n${header}\n\n${markdownTable(rows)}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`,
  );
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = await main();
