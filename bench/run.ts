// `npm run bench` (after `npm run build`): each function's first invocation and bundle size on the
// runtime's Node (22.15) against the SDK comparison row, sweep throughput against its measured latency
// floor, ledger scaling and memory, API economy, and the monthly cost table from counted requests. Prints
// one table and writes it with its notes as markdown to bench/results.local.md (ignored by git);
// `npm run bench -- --write` also writes bench/results.md, the committed figures. Exits 1 when a budget
// is broken (a row that could not be measured says so and neither passes nor fails).
//
// This machine is shared and noisy, so: cold start is counted in CPU instructions (callgrind), with
// paired wall times beside; sweep timings are medians of alternating repeats, judged as a ratio to a
// floor measured in the same run.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FUNCTIONS } from '../build.mjs';
import { loadConfig } from '../shared/config.ts';
import type { CoreSettings } from '../shared/core/ports.ts';
import { simulateEconomy } from './api-economy.ts';
import { runCostScenarios } from './cost-scenarios.ts';
import {
  type CaseKey,
  type FirstCallFigures,
  measureFirstCalls,
  valgrindVersion,
} from './first-invocation.ts';
import { measurePageWeight } from './page-weight.ts';
import {
  atLeast,
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
import { ensureRuntimeNode, RUNTIME_NODE_VERSION } from './runtime-node.ts';
import {
  type BuiltHandler,
  buildEmptyHandler,
  buildSdkHandler,
  bundleComposition,
} from './sdk-comparison.ts';
import { runSweepBenchmarks } from './sweep-bench.ts';

/** Budgets from issues #14 (first invocation, size, SDK) and #10 (sweep ratio, API economy). */
export const BUDGET = {
  bundleBytes: 400 * 1024,
  firstCallInstructions: 350e6,
  /** Each function's first call at least this many times cheaper than the SDK handler's. */
  belowSdk: 2.4,
  sweepOverFloor: 2.0,
  historyRatio: 1.2,
  peakRssBytes: 128 * 1024 * 1024,
  getsPerHourRun: 62,
  finishDelaySeconds: 70,
} as const;

const root = join(import.meta.dirname, '..');
const dist = join(root, process.env.BUILD_OUT_DIR ?? 'dist');
const args = process.argv.slice(2);
const writeCommitted = args.includes('--write');
/** `--only <section>` (repeatable): run just those sections, e.g. `npm run bench -- --only sweep`. */
const only = args.flatMap((arg, i) => (arg === '--only' && args[i + 1] !== undefined ? [args[i + 1]] : []));
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const rows: Row[] = [];
const notes: string[] = [];
/** Extra markdown sections after the table (the cost table). */
const sections: string[] = [];
const errorText = (error: unknown) =>
  (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';

/** The node the functions are measured on: the runtime's, else (another platform) this one, said so. */
let functionNode = process.execPath;
let functionNodeLabel = `Node ${process.version.slice(1)} (this machine's; the runtime's could not be installed)`;

async function runtimeNode(): Promise<void> {
  try {
    const node = await ensureRuntimeNode(log);
    functionNode = node.path;
    functionNodeLabel = `Node ${RUNTIME_NODE_VERSION}`;
    if (node.installSeconds > 0)
      notes.push(`The runtime's Node was installed in this run (${node.installSeconds.toFixed(0)} s).`);
  } catch (error) {
    log(`the runtime's Node ${RUNTIME_NODE_VERSION} is not available: ${errorText(error)}`);
    notes.push(
      `The runtime's Node ${RUNTIME_NODE_VERSION} was not available (${errorText(error)}): figures are on ${process.version}.`,
    );
  }
}

/** tmpfs when there is one: the file ledger fsyncs, and this VM's disk would dominate. */
function scratchDir(): { dir: string; label: string } {
  try {
    const probe = mkdtempSync('/dev/shm/datasphere-runner-probe-');
    rmSync(probe, { recursive: true, force: true });
    return { dir: '/dev/shm', label: 'file ledger on tmpfs' };
  } catch {
    return { dir: tmpdir(), label: `file ledger in ${tmpdir()}` };
  }
}

const over = (figures: FirstCallFigures, key: CaseKey): number | undefined => {
  const base = figures.instructions.get('empty')?.instructions;
  const value = figures.instructions.get(key)?.instructions;
  return base === undefined || value === undefined ? undefined : value - base;
};

async function firstInvocations(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'datasphere-runner-bench-build-'));
  try {
    writeFileSync(join(scratch, 'package.json'), '{"type": "commonjs"}\n');
    const empty = await buildEmptyHandler(scratch);
    let sdk: BuiltHandler | undefined;
    try {
      sdk = await buildSdkHandler(scratch, log);
    } catch (error) {
      log(`SDK comparison row skipped: ${errorText(error)}`);
      notes.push(`The SDK comparison row was not measured: ${errorText(error)}.`);
    }
    const bundles: Partial<Record<CaseKey, string>> = { empty: empty.file };
    for (const fn of FUNCTIONS) bundles[fn as CaseKey] = join(dist, fn, 'index.js');
    if (sdk !== undefined) bundles.sdk = sdk.file;
    const callgrind = valgrindVersion() !== undefined;
    if (!callgrind) {
      log('valgrind is not installed: first calls are timed only; the instruction budgets are NOT checked');
      notes.push(
        'valgrind was not found: the instruction rows were not measured (apt-get install valgrind).',
      );
    }
    const { dir: ledgers } = scratchDir();
    const main = await measureFirstCalls({
      node: functionNode,
      bundles,
      scratchDir: ledgers,
      callgrind,
      wallPairs: 7,
      log,
    });
    // The machine's Node, secondary: the bundles must load there too (engines), but it is not what users pay.
    let secondary: FirstCallFigures | undefined;
    if (callgrind && functionNode !== process.execPath) {
      const { sdk: _sdk, ...ours } = bundles;
      secondary = await measureFirstCalls({
        node: process.execPath,
        bundles: ours,
        scratchDir: ledgers,
        callgrind,
        wallPairs: 0,
        log,
      });
    }
    const base = main.instructions.get('empty');
    rows.push(
      info(
        `empty handler: node start + first call (baseline), ${functionNodeLabel}`,
        base === undefined ? 'not measured' : `${(base.instructions / 1e6).toFixed(0)} M instr`,
      ),
    );
    const sdkOver = sdk === undefined ? undefined : over(main, 'sdk');
    for (const fn of FUNCTIONS) {
      const key = fn as CaseKey;
      const file = bundles[key] as string;
      const bytes = Number(readFileSync(file).length);
      rows.push(bounded(`${fn}: bundle size`, bytes, BUDGET.bundleBytes, kb));
      const instr = over(main, key);
      rows.push(
        bounded(
          `${fn}: first call over empty, instructions (${functionNodeLabel})`,
          instr,
          BUDGET.firstCallInstructions,
          mInstr,
        ),
      );
      const wall = main.wallOverMs.get(key);
      rows.push(
        info(
          `${fn}: first call over empty, wall time (paired)`,
          wall === undefined ? 'not measured' : `+${wall.toFixed(0)} ms`,
        ),
      );
      rows.push(
        atLeast(
          `${fn}: SDK handler's first call ÷ this one (instructions over empty)`,
          sdkOver === undefined || instr === undefined ? undefined : sdkOver / instr,
          BUDGET.belowSdk,
          times,
        ),
      );
      if (secondary !== undefined) {
        const old = over(secondary, key);
        rows.push(
          info(
            `${fn}: first call over empty, instructions (Node ${process.version.slice(1)}, secondary)`,
            old === undefined ? 'not measured' : mInstr(old),
          ),
        );
      }
      const meta = JSON.parse(readFileSync(join(dist, fn, 'meta.json'), 'utf8'));
      const top = bundleComposition(meta)
        .slice(0, 6)
        .map((p) => `${p.name} ${p.kb.toFixed(1)}`)
        .join(', ');
      notes.push(`${fn} bundle, largest parts (KB): ${top}.`);
    }
    if (sdk !== undefined) {
      const sdkAnswer = main.instructions.get('sdk')?.answer;
      rows.push(info('SDK handler (@yandex-cloud/nodejs-sdk): bundle size', kb(sdk.bytes)));
      rows.push(
        info(
          'SDK handler: first call over empty, instructions',
          sdkOver === undefined ? 'not measured' : mInstr(sdkOver),
        ),
      );
      const sdkWall = main.wallOverMs.get('sdk');
      rows.push(
        info(
          'SDK handler: first call over empty, wall time (paired)',
          sdkWall === undefined ? 'not measured' : `+${sdkWall.toFixed(0)} ms`,
        ),
      );
      notes.push(
        `SDK handler bundle, largest parts (KB): ${sdk.top.map((p) => `${p.name} ${p.kb.toFixed(0)}`).join(', ')}. ` +
          `Its one call (ProjectService.Execute over gRPC/TLS to the emulator, which speaks HTTP/1.1 REST) ` +
          (sdkAnswer === undefined
            ? 'was not measured.'
            : sdkAnswer.ok
              ? `answered ${sdkAnswer.statusCode ?? 'without a status'} (unexpected).`
              : `failed: "${sdkAnswer.error}"; its figure counts the load, the channel and the connection up to that failure, not a whole exchange, so the real SDK costs more.`),
      );
    }
    notes.push(
      `First invocation = a fresh \`node\` process (${main.nodeVersion}, JIT on, fixed hash/random seeds) that requires the ` +
        'built bundle and handles one real event against the DataSphere emulator on 127.0.0.1 (execute: POST of a run ' +
        'request → Project.Execute, 202; check: the sweep with one due run → Operation.Get; cancel: POST {runId} → ' +
        'Operation.Cancel, 202), file ledger on tmpfs, minus the same for an empty handler built with the same esbuild ' +
        `settings. Instructions: callgrind, all threads (two baseline runs differed by ${main.baselineNoise.toFixed(2)} M). ` +
        `Wall: median over ${main.wallPairs} alternating pairs of the time from process start to the end of the call.`,
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function pageWeight(): Promise<void> {
  rows.push(
    ...(await measurePageWeight({
      distDir: dist,
      node: functionNode,
      log,
      note: (text) => notes.push(text),
    })),
  );
}

async function sweeps(): Promise<void> {
  const scratch = scratchDir();
  const figures = await runSweepBenchmarks({
    distDir: dist,
    scratchDir: scratch.dir,
    repeats: 7,
    node: functionNode,
    progress: log,
  });
  rows.push(
    info(
      `check: one sweep of 300 due runs, 20 ms API latency, ${figures.concurrency} in flight (${scratch.label}, ${functionNodeLabel})`,
      ms(figures.dueSweepMs),
    ),
  );
  rows.push(
    info(
      `latency floor: a bare loop of the same 300 Gets, ${figures.concurrency} in flight (theory ${figures.theoreticalFloorMs} ms)`,
      ms(figures.floorMs),
    ),
  );
  rows.push(
    bounded(
      "check: the sweep over its latency floor (median of the rounds' ratios)",
      figures.overFloor,
      BUDGET.sweepOverFloor,
      times,
    ),
  );
  rows.push(
    info(
      'check: the same, fastest sweep over fastest floor; CPU time of one sweep',
      `${times(figures.bestOverFloor)}; ${ms(figures.dueSweepCpuMs)}`,
    ),
  );
  rows.push(
    bounded(
      'check: the same sweep with 10,000 finished runs in the ledger, ratio',
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
    `Sweeps: the built check bundle in its own node process (bench/function-child.cjs, ${functionNodeLabel}) on a timer ` +
      `event, against the emulator with a 20 ms latency fault on every request, ${scratch.label}; medians of 7 ` +
      `alternating repeats on instances warmed by 2 sweeps (all repeats, ms: 300 due ${figures.dueSweepRepeats.join(', ')}; ` +
      `with history ${figures.withHistoryRepeats.join(', ')}). The floor is bench/get-loop.cjs on the same node: the same ` +
      `300 Operation.Get requests, ${figures.concurrency} in flight on keep-alive sockets, no ledger, measured right before ` +
      `each round's sweeps (${figures.floorRepeats.join(', ')} ms); in theory ceil(300 / ${figures.concurrency}) × 20 ms = ` +
      `${figures.theoreticalFloorMs} ms. The sweep's own work is CPU (${ms(figures.dueSweepCpuMs)} of it per sweep, median), ` +
      `the floor's is mostly waiting, so a loaded machine stretches the sweep more than the floor: ` +
      `load average ${loadavg()[0]?.toFixed(1)} at the end of this section. The 10,000-run sweep took ${figures.openSweepMs} ms on a fresh instance, reading ` +
      'the due runs 500 at a time.',
  );
}

/**
 * The configured check schedule, except the first check: the contract (design.md §6) is "at the first
 * sweep", i.e. CHECK_FIRST_DELAY_SECONDS=0, set here explicitly so the budget measures the contract
 * whatever the default of the build.
 */
function configuredSettings(): Partial<CoreSettings> {
  const config = loadConfig({ RUN_STORE: 'file:/tmp/unused', CHECK_FIRST_DELAY_SECONDS: '0' });
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
      'Operation.Get calls per one-hour run (max over 120 tick phases)',
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
  notes.push(
    `API economy: the core (startRun + sweep) with the first check at the first sweep (CHECK_FIRST_DELAY_SECONDS=` +
      `${settings.checkFirstDelaySeconds}, set by the bench), then ${settings.checkIntervalSeconds} s ` +
      `×${settings.checkBackoffFactor} up to ${settings.checkMaxIntervalSeconds} s, due slack ` +
      `${settings.checkDueSlackSeconds} s, a fake Operation API and a simulated clock, one sweep per minute at 120 ` +
      `phases. Gets per one-hour run: ${hour.minGets}..${hour.maxGets}; with ticks up to 10 s late: ${late.maxGets} Gets, ` +
      `${late.maxDelaySeconds.toFixed(1)} s. A 30 s run is known ${short.maxDelaySeconds.toFixed(1)} s after it ends ` +
      `(${short.maxGets} Gets).`,
  );
}

async function costs(): Promise<void> {
  const result = await runCostScenarios({ distDir: dist, node: functionNode, log });
  rows.push(...result.rows);
  notes.push(...result.notes);
  sections.push(result.markdown);
}

const load = () =>
  loadavg()
    .map((n) => n.toFixed(1))
    .join('/');

async function main(): Promise<number> {
  const started = performance.now();
  const loadAtStart = load();
  await runtimeNode();
  const all = [
    ['first invocation', firstInvocations],
    ['page weight', pageWeight],
    ['sweep', sweeps],
    ['API economy', economy],
    ['cost', costs],
  ] as const;
  const unknown = only.filter((name) => !all.some(([known]) => known === name));
  if (unknown.length > 0) {
    log(`--only: no section ${unknown.join(', ')} (sections: ${all.map(([name]) => name).join(', ')})`);
    return 2;
  }
  for (const [name, section] of all) {
    if (only.length > 0 && !only.includes(name)) continue;
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
  const took = ((performance.now() - started) / 1000).toFixed(0);
  const header =
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench\`: functions on ${functionNodeLabel}, ` +
    `bench on node ${process.version}, ${availableParallelism()} cores (load average ${loadAtStart} at the start, ` +
    `${load()} at the end), ${valgrindVersion() ?? 'no valgrind'}; took ${took} s.`;
  process.stdout.write(`\n${textTable(rows)}\n\n`);
  for (const note of notes) process.stdout.write(`- ${note}\n`);
  for (const section of sections) process.stdout.write(`\n${section}\n`);
  const verdict = failed.length === 0 ? 'all measured budgets hold' : `${failed.length} budget(s) broken`;
  process.stdout.write(
    `\n${verdict}${unmeasured.length > 0 ? `; ${unmeasured.length} not measured` : ''} (${took} s)\n`,
  );
  const markdown =
    `# Benchmark results\n\n${header}\n\n${markdownTable(rows)}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n` +
    sections.map((section) => `\n${section}\n`).join('');
  const local = join(import.meta.dirname, 'results.local.md');
  writeFileSync(local, markdown);
  log(`results written to ${local.replace(`${root}/`, '')} (not committed)`);
  if (writeCommitted && only.length > 0) {
    log('--write ignored with --only: bench/results.md holds the figures of a whole run');
  } else if (writeCommitted) {
    writeFileSync(join(import.meta.dirname, 'results.md'), markdown);
    log('results also written to bench/results.md (--write): commit them deliberately');
  }
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = await main();
