// The cost table from counted requests: one run of each kind followed from its start to its settled end
// by the BUILT functions (each in its own process on the runtime's Node, warm, as the per-minute timers
// keep them), with the ledger on the Document API (dynalite), reports to a webhook and to Message Queue
// (local-aws-sqs), DataSphere answered by the emulator. Metering proxies count every Document API and
// Message Queue request with its item sizes; the functions' clocks (and the emulator's) jump a minute
// per sweep, so an hour passes in seconds. Then bench/cost-model.ts turns the counts into a month.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createSqsServer } from 'local-aws-sqs';
import { Agent } from 'undici';
import { parse as parseYaml } from 'yaml';
import { httpEvent, timerEvent } from '../local/cloud-events.ts';
import { type Emulator, startEmulator } from '../local/emulator/emulator.ts';
import type { RunRecord } from '../shared/core/run-record.ts';
import { createDocApiLedger } from '../shared/ledger/docapi-store.ts';
// The tests' dynalite starter: the bench's Document API is the same stand-in on a free port.
import { startDynalite } from '../test/ledger/dynalite-server.ts';
import {
  billedMs,
  gbSeconds,
  type Idle,
  itemSize,
  type Monthly,
  monthly,
  type PerRun,
  PRICES,
  readRu,
  writeRu,
} from './cost-model.ts';
import { type CountingProxy, type Exchange, startCountingProxy } from './counting-proxy.ts';
import { PROJECT } from './ledger-fill.ts';
import { info, type Row } from './results-table.ts';
import { type ChildAnswer, type FunctionProcess, startFunction } from './sweep-bench.ts';

/** Latency added to every request, as the cloud's network would (the local servers have none). */
const DATASPHERE_LATENCY_MS = 20;
const DOCAPI_LATENCY_MS = 10;
const QUEUE_LATENCY_MS = 10;
const TABLE = 'bench_costs';
const FAKE_KEYS = { accessKeyId: 'AKIDBENCHCOSTS', secretAccessKey: 'bench-costs-not-a-secret' };
const IDLE_ROUNDS = 5;
/** Runs of each kind; durations are pooled over them, counts averaged (they should not differ). */
const REPEATS = 3;

interface Kind {
  readonly key: string;
  readonly label: string;
  readonly runSeconds: number;
  readonly reports: boolean;
}

const KINDS: readonly Kind[] = [
  { key: 'short', label: 'short run (30 s)', runSeconds: 30, reports: false },
  { key: 'half', label: '30-minute run', runSeconds: 1800, reports: false },
  { key: 'hour', label: 'one-hour run', runSeconds: 3600, reports: false },
  { key: 'reported', label: 'short run + webhook + queue report', runSeconds: 30, reports: true },
];

interface DocRequest {
  readonly phase: string;
  readonly action: string;
  readonly pk?: string;
  readonly bytes: number;
  readonly ru: number;
  readonly indexRu: number;
  readonly ok: boolean;
  /** dynalite's ConsumedCapacity.CapacityUnits (DynamoDB's own units), when it reported one. */
  readonly capacityUnits?: number;
}

interface Invocation {
  readonly phase: string;
  readonly fn: 'execute' | 'check';
  /** Which process (its requestIds are its own). */
  readonly instance: number;
  readonly requestId: string;
  readonly wallMs: number;
  readonly memoryMb: number;
  readonly due?: number;
}

export interface CostResult {
  readonly rows: Row[];
  readonly notes: string[];
  readonly markdown: string;
}

export interface CostOptions {
  readonly distDir: string;
  readonly node: string;
  readonly log: (line: string) => void;
}

function memoryOf(): Record<'execute' | 'check' | 'cancel', number> {
  const root = join(import.meta.dirname, '..');
  const text = readFileSync(join(root, 'serverless.yaml'), 'utf8');
  const doc = parseYaml(text) as { functions: Record<string, { memorySize?: number }> };
  const of = (fn: string) => {
    const mb = Number(doc.functions[fn]?.memorySize);
    if (!Number.isFinite(mb) || mb <= 0) throw new Error(`serverless.yaml: no memorySize for ${fn}`);
    return mb;
  };
  return { execute: of('execute'), check: of('check'), cancel: of('cancel') };
}

/** Reads each Document API exchange: action, item sizes, RU by the documented formula. */
function docApiMeter(phase: () => string, sink: DocRequest[]) {
  const indexed = new Map<string, boolean>();
  const metered = new Set(['GetItem', 'PutItem', 'Query', 'UpdateItem', 'DeleteItem']);
  const actionOf = (headers: Exchange['requestHeaders']) =>
    String(headers['x-amz-target'] ?? '').split('.')[1] ?? '';
  return {
    phase,
    // Ask dynalite for its ConsumedCapacity (a cross-check), and hide it from the function.
    rewriteRequest(headers: Exchange['requestHeaders'], body: Buffer) {
      if (!metered.has(actionOf(headers))) return body;
      return Buffer.from(
        JSON.stringify({ ...JSON.parse(body.toString('utf8')), ReturnConsumedCapacity: 'TOTAL' }),
      );
    },
    rewriteResponse(requestBody: Buffer, status: number, body: Buffer) {
      if (status !== 200) return body;
      const answer = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
      const asked = JSON.parse(requestBody.toString('utf8') || '{}') as Record<string, unknown>;
      if (!('ConsumedCapacity' in answer) || 'ReturnConsumedCapacity' in asked) return body;
      const { ConsumedCapacity: _hidden, ...rest } = answer;
      return Buffer.from(JSON.stringify(rest));
    },
    onExchange(exchange: Exchange) {
      const action = actionOf(exchange.requestHeaders);
      const request = JSON.parse(exchange.requestBody.toString('utf8') || '{}') as Record<string, unknown>;
      const ok = exchange.status === 200;
      const answer = ok
        ? (JSON.parse(exchange.responseBody.toString('utf8') || '{}') as Record<string, unknown>)
        : {};
      const capacity = (answer.ConsumedCapacity as { CapacityUnits?: number } | undefined)?.CapacityUnits;
      type Item = Record<string, Record<string, unknown>>;
      let bytes = 0;
      let ru = 0;
      let indexRu = 0;
      let pk: string | undefined;
      switch (action) {
        case 'GetItem': {
          pk = String((request.Key as Item | undefined)?.pk?.S ?? '');
          bytes = answer.Item === undefined ? 0 : itemSize(answer.Item as Item);
          ru = readRu(bytes);
          break;
        }
        case 'Query': {
          bytes = ((answer.Items as Item[] | undefined) ?? []).reduce((sum, item) => sum + itemSize(item), 0);
          ru = readRu(bytes);
          break;
        }
        case 'PutItem':
        case 'UpdateItem': {
          const item = (request.Item ?? {}) as Item;
          pk = String(item.pk?.S ?? '');
          bytes = itemSize(item);
          // A failed condition is still a write attempt: counted (DynamoDB bills it; YDB does not say).
          ru = writeRu(bytes);
          const inIndex = item.openShard !== undefined;
          // The open index (ProjectionType ALL) holds a copy of every open run: a write of the whole
          // item while it is in the index, a delete when it leaves.
          if (ok) {
            if (inIndex) indexRu = writeRu(bytes);
            else if (indexed.get(pk)) indexRu = 2;
            indexed.set(pk, inIndex);
          }
          break;
        }
        case 'DeleteItem':
          ru = 2;
          break;
        default:
          ru = 0;
      }
      sink.push({
        phase: phase(),
        action,
        ...(pk === undefined ? {} : { pk }),
        bytes,
        ru,
        indexRu,
        ok,
        ...(capacity === undefined ? {} : { capacityUnits: capacity }),
      });
    },
  };
}

interface QueueRequest {
  readonly phase: string;
  readonly action: string;
  readonly bytes: number;
  readonly units: number;
}

function queueMeter(sink: QueueRequest[]) {
  return (exchange: Exchange) => {
    const form = new URLSearchParams(exchange.requestBody.toString('utf8'));
    const action = form.get('Action') ?? String(exchange.requestHeaders['x-amz-target'] ?? '?');
    const bytes = Buffer.byteLength(form.get('MessageBody') ?? '', 'utf8');
    sink.push({ phase: exchange.phase, action, bytes, units: Math.max(1, Math.ceil(bytes / 65_536)) });
  };
}

async function startWebhook(
  phase: () => string,
  sink: string[],
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      sink.push(phase());
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};
const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

/** The median over the repeats of the summed GB·s of each repeat's own calls (start + status read). */
function perRepeatMedian(calls: readonly Invocation[], gbs: (i: Invocation) => number): number {
  const byRepeat = new Map<string, number>();
  for (const call of calls) {
    const tag = call.phase.split(':')[0] ?? '';
    byRepeat.set(tag, (byRepeat.get(tag) ?? 0) + gbs(call));
  }
  return median([...byRepeat.values()]);
}

interface KindCounts {
  readonly kind: Kind;
  readonly perRun: PerRun;
  readonly month: Monthly;
  readonly docByAction: Record<string, number>;
  readonly runItemBytes: { readonly start: number; readonly end: number };
  readonly opItemBytes: number;
  readonly startMs: number;
  readonly statusMs: number;
  readonly busySweepMs: number;
  readonly webhookPosts: number;
  readonly queueBytes: number;
  readonly checks: number;
  readonly capacityUnits: number;
  readonly writeBlocks: number;
}

export async function runCostScenarios(options: CostOptions): Promise<CostResult> {
  const memory = memoryOf();
  let phase = 'setup';
  const currentPhase = () => phase;
  const docs: DocRequest[] = [];
  const queueRequests: QueueRequest[] = [];
  const webhookPosts: string[] = [];
  const invocations: Invocation[] = [];
  let offsetMs = 0;
  const closers: (() => Promise<void> | void)[] = [];
  const functions: FunctionProcess[] = [];
  try {
    const dynalite = await startDynalite();
    closers.push(dynalite.close);
    const docProxy: CountingProxy = await startCountingProxy({
      target: dynalite.endpoint,
      latencyMs: DOCAPI_LATENCY_MS,
      ...docApiMeter(currentPhase, docs),
    });
    closers.push(docProxy.close);
    const sqs = await createSqsServer({
      port: 0,
      hostname: '127.0.0.1',
      region: 'ru-central1',
      queues: [{ QueueName: 'run-reports' }],
    });
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          sqs.closeAllConnections();
          sqs.close(() => resolve());
        }),
    );
    const queueProxy = await startCountingProxy({
      target: `http://127.0.0.1:${(sqs.address() as AddressInfo).port}`,
      latencyMs: QUEUE_LATENCY_MS,
      phase: currentPhase,
      onExchange: queueMeter(queueRequests),
    });
    closers.push(queueProxy.close);
    const webhook = await startWebhook(currentPhase, webhookPosts);
    closers.push(webhook.close);
    const emulator: Emulator = await startEmulator({
      now: () => Date.now() + offsetMs,
      durationMs: 3_600_000,
    });
    closers.push(() => emulator.close());
    emulator.inject({ kind: 'latency', latencyMs: DATASPHERE_LATENCY_MS, times: Number.POSITIVE_INFINITY });
    const agent = new Agent();
    closers.push(() => agent.close());
    // The bench's own view of the table (straight to dynalite: not counted).
    const ledger = createDocApiLedger({
      endpoint: dynalite.endpoint,
      table: TABLE,
      dispatcher: agent,
      auth: { kind: 'sigv4', ...FAKE_KEYS },
    });

    const env = {
      RUN_STORE: `docapi:${docProxy.url}`,
      RUN_STORE_TABLE: TABLE,
      AWS_ACCESS_KEY_ID: FAKE_KEYS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: FAKE_KEYS.secretAccessKey,
      DATASPHERE_ENDPOINT: emulator.url,
      OPERATION_ENDPOINT: emulator.url,
      ALLOWED_PROJECTS: '*',
      // The contract: the first check at the first sweep (design.md §6).
      CHECK_FIRST_DELAY_SECONDS: '0',
      LOG_LEVEL: 'info',
      BENCH_SHIFTED_CLOCK: '1',
    };
    const reportEnv = {
      NOTIFY_WEBHOOK_URL: webhook.url,
      NOTIFY_WEBHOOK_SECRET: 'bench-webhook-not-a-secret',
      NOTIFY_QUEUE_URL: `${queueProxy.url}/123456789012/run-reports`,
      NOTIFY_QUEUE_ACCESS_KEY_ID: FAKE_KEYS.accessKeyId,
      NOTIFY_QUEUE_SECRET_ACCESS_KEY: FAKE_KEYS.secretAccessKey,
    };
    const bundle = (fn: string) => join(options.distDir, fn, 'index.js');
    const execute = await startFunction(bundle('execute'), env, options.node);
    const check = await startFunction(bundle('check'), env, options.node);
    const checkReporting = await startFunction(bundle('check'), { ...env, ...reportEnv }, options.node);
    functions.push(execute, check, checkReporting);

    const invoke = async (
      fn: 'execute' | 'check',
      instance: FunctionProcess,
      event: unknown,
    ): Promise<ChildAnswer> => {
      const answer = await instance.invoke(event, { clockOffsetMs: offsetMs });
      if (!answer.ok) throw new Error(`${fn} (${phase}) failed: ${answer.error}`);
      const due = (answer.result as { due?: number } | null)?.due;
      invocations.push({
        phase,
        fn,
        instance: functions.indexOf(instance),
        requestId: `bench-${answer.id}`,
        wallMs: answer.wallMs,
        memoryMb: memory[fn],
        ...(typeof due === 'number' ? { due } : {}),
      });
      return answer;
    };
    const now = () => new Date(Date.now() + offsetMs);
    const tick = (instance: FunctionProcess) => invoke('execute', instance, timerEvent({ now: now() }));
    const sweep = (instance: FunctionProcess) => invoke('check', instance, timerEvent({ now: now() }));

    /** Starts one run, sweeps once a minute (one status read after the first sweep) until it settles. */
    const follow = async (tag: string, kind: Kind, checker: FunctionProcess): Promise<void> => {
      const notebookId = `bench/cost-${kind.key}.ipynb`;
      emulator.plan({ notebookId, durationMs: kind.runSeconds * 1000 });
      phase = `${tag}:start`;
      const started = await invoke(
        'execute',
        execute,
        httpEvent({
          method: 'POST',
          url: '/execute',
          headers: { 'content-type': 'application/json' },
          body: Buffer.from(JSON.stringify({ projectId: PROJECT, notebookId })),
          now: now(),
        }),
      );
      const answer = started.result as { statusCode?: number; body?: string };
      if (answer.statusCode !== 202) throw new Error(`start answered ${answer.statusCode}: ${answer.body}`);
      const runId = (JSON.parse(answer.body ?? '{}') as { runId?: string }).runId ?? '';
      // The first sweep comes on average half a minute after the start; then one a minute.
      offsetMs += 30_000;
      for (let minute = 0; minute < kind.runSeconds / 60 + 10; minute++) {
        phase = `${tag}:sweep`;
        await sweep(checker);
        if (minute === 0) {
          phase = `${tag}:status`;
          const status = await invoke(
            'check',
            checker,
            httpEvent({
              method: 'GET',
              url: `/check?runId=${encodeURIComponent(runId)}`,
              headers: {},
              body: Buffer.alloc(0),
              now: now(),
            }),
          );
          if ((status.result as { statusCode?: number }).statusCode !== 200)
            throw new Error('status read failed');
        }
        const record: RunRecord | undefined = await ledger.get(runId);
        if (record?.finishedAt !== undefined && record.nextCheckAt === undefined) {
          if (record.status !== 'SUCCEEDED') throw new Error(`${kind.label}: ended ${record.status}`);
          offsetMs += 120_000;
          return;
        }
        offsetMs += 60_000;
      }
      throw new Error(`${kind.label}: the run did not settle`);
    };

    // Warm every instance (cold load, the table's creation, a whole run), then the idle timers.
    phase = 'warmup';
    await tick(execute);
    await follow(
      'warmup',
      { key: 'warmup', label: 'warm-up run', runSeconds: 0, reports: true },
      checkReporting,
    );
    await follow('warmup', { key: 'warmup', label: 'warm-up run', runSeconds: 0, reports: false }, check);
    for (let i = 0; i < IDLE_ROUNDS; i++) {
      offsetMs += 60_000;
      phase = 'idle-tick';
      await tick(execute);
      phase = 'idle-sweep';
      await sweep(check);
    }

    for (const kind of KINDS) {
      options.log(`cost: following ${REPEATS} × ${kind.label}`);
      for (let i = 0; i < REPEATS; i++)
        await follow(`${kind.key}#${i}`, kind, kind.reports ? checkReporting : check);
    }
    phase = 'done';
    await ledger.close?.();
    for (const fn of functions.splice(0)) await fn.close();
    const logBytes = new Map<string, number>();
    for (const [instance, fn] of [execute, check, checkReporting].entries()) {
      for (const line of fn.lines) {
        const match = /"request_id":"(bench-\d+)"/.exec(line);
        if (match?.[1] === undefined) continue;
        // Each instance numbers its own invocations: key by instance too.
        const key = `${instance}:${match[1]}`;
        logBytes.set(key, (logBytes.get(key) ?? 0) + Buffer.byteLength(line, 'utf8') + 1);
      }
    }
    const logOf = (inv: Invocation) => logBytes.get(`${inv.instance}:${inv.requestId}`) ?? 0;

    const gbsOf = (inv: Invocation) => gbSeconds(inv.wallMs, inv.memoryMb);
    const idleSweeps = invocations.filter((i) => i.phase === 'idle-sweep');
    const idleTicks = invocations.filter((i) => i.phase === 'idle-tick');
    const docsOf = (p: string) => docs.filter((d) => d.phase === p);
    const idle: Idle = {
      sweepGbs: median(idleSweeps.map(gbsOf)),
      sweepRu: sum(docsOf('idle-sweep').map((d) => d.ru)) / IDLE_ROUNDS,
      sweepLogBytes: sum(idleSweeps.map(logOf)) / IDLE_ROUNDS,
      tickGbs: median(idleTicks.map(gbsOf)),
      tickRu: sum(docsOf('idle-tick').map((d) => d.ru)) / IDLE_ROUNDS,
      tickLogBytes: sum(idleTicks.map(logOf)) / IDLE_ROUNDS,
    };
    const idleSweepMs = median(idleSweeps.map((i) => i.wallMs));
    const idleTickMs = median(idleTicks.map((i) => i.wallMs));

    const idleQueriesPerSweep = docsOf('idle-sweep').filter((d) => d.action === 'Query').length / IDLE_ROUNDS;
    const counts: KindCounts[] = KINDS.map((kind) => {
      // Pooled over the repeats: counts are averaged per run, durations are medians of all samples.
      const ofKind = (p: string) => p.startsWith(`${kind.key}#`);
      const mine = invocations.filter((i) => ofKind(i.phase));
      const calls = mine.filter((i) => !i.phase.endsWith(':sweep'));
      const sweeps = mine.filter((i) => i.phase.endsWith(':sweep'));
      const busy = sweeps.filter((i) => (i.due ?? 0) > 0);
      const runDocs = docs.filter((d) => ofKind(d.phase));
      // A sweep with nothing due is the idle sweep the timer pays anyway: its requests are not the run's.
      const idleInRun = sweeps.length - busy.length;
      const queries = runDocs.filter((d) => d.action === 'Query');
      const point = runDocs.filter((d) => d.action !== 'Query');
      const queue = queueRequests.filter((q) => ofKind(q.phase));
      const hooks = webhookPosts.filter(ofKind).length;
      const runPuts = runDocs.filter((d) => d.action === 'PutItem' && d.pk?.startsWith('run#') && d.ok);
      const opPuts = runDocs.filter((d) => d.action === 'PutItem' && d.pk?.startsWith('op#') && d.ok);
      const firstPuts = runPuts.filter((d, i) => runPuts.findIndex((e) => e.pk === d.pk) === i);
      const lastPuts = runPuts.filter((d, i) => runPuts.findLastIndex((e) => e.pk === d.pk) === i);
      const perRun: PerRun = {
        calls: calls.length / REPEATS,
        callGbs: perRepeatMedian(calls, gbsOf),
        sweepsDue: busy.length / REPEATS,
        busySweepGbs: median(busy.map(gbsOf)),
        pointRu: sum(point.map((d) => d.ru)) / REPEATS,
        indexRu: sum(runDocs.map((d) => d.indexRu)) / REPEATS,
        queryBytes: sum(queries.map((d) => d.bytes)) / REPEATS,
        queriesPerBusySweep:
          busy.length === 0 ? 0 : (queries.length - idleInRun * idleQueriesPerSweep) / busy.length,
        queueRequests: sum(queue.filter((q) => q.action === 'SendMessage').map((q) => q.units)) / REPEATS,
        gatewayRequests: calls.length / REPEATS,
        logBytes: (sum(calls.map(logOf)) + sum(busy.map(logOf)) - busy.length * idle.sweepLogBytes) / REPEATS,
        storedBytes: median(lastPuts.map((d) => d.bytes)) + median(opPuts.map((d) => d.bytes)),
      };
      const docByAction: Record<string, number> = {};
      for (const d of runDocs) docByAction[d.action] = (docByAction[d.action] ?? 0) + 1 / REPEATS;
      const puts = runDocs.filter((d) => d.action === 'PutItem');
      return {
        kind,
        perRun,
        month: monthly(perRun, idle),
        docByAction,
        runItemBytes: {
          start: median(firstPuts.map((d) => d.bytes)),
          end: median(lastPuts.map((d) => d.bytes)),
        },
        opItemBytes: median(opPuts.map((d) => d.bytes)),
        startMs: median(calls.filter((i) => i.phase.endsWith(':start')).map((i) => i.wallMs)),
        statusMs: median(calls.filter((i) => i.phase.endsWith(':status')).map((i) => i.wallMs)),
        busySweepMs: median(busy.map((i) => i.wallMs)),
        webhookPosts: hooks / REPEATS,
        queueBytes: median(queue.map((q) => q.bytes)),
        checks: busy.length / REPEATS,
        capacityUnits: sum(puts.map((d) => d.capacityUnits ?? 0)) / REPEATS,
        writeBlocks: sum(puts.map((d) => d.ru / 2)) / REPEATS,
      };
    });
    return report(counts, idle, { idleSweepMs, idleTickMs, memory });
  } finally {
    for (const fn of functions) await fn.close();
    for (const close of closers.reverse()) await close();
  }
}

const usd = (n: number) => `$${n.toFixed(2)}`;
const rub = (n: number) => `${n.toFixed(0)} ₽`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const fixed = (n: number, digits = 1) => n.toFixed(digits);

function report(
  counts: readonly KindCounts[],
  idle: Idle,
  extra: { idleSweepMs: number; idleTickMs: number; memory: Record<string, number> },
): CostResult {
  const head = `| | ${counts.map((c) => c.kind.label).join(' | ')} |`;
  const rule = `|---|${counts.map(() => '---:').join('|')}|`;
  const line = (label: string, cell: (c: KindCounts) => string) =>
    `| ${label} | ${counts.map(cell).join(' | ')} |`;
  const perRun = [
    `### Counted for one run of each kind (${REPEATS} runs each: counts per run, times are medians)`,
    '',
    head,
    rule,
    line('function calls for the run (start, one status read)', (c) => fixed(c.perRun.calls, 0)),
    line('sweeps that had it due (checks)', (c) => fixed(c.checks, 1)),
    line(
      'start / status read / busy sweep, ms (billed)',
      (c) =>
        `${fixed(c.startMs, 0)} (${billedMs(c.startMs)}) / ${fixed(c.statusMs, 0)} (${billedMs(c.statusMs)}) / ${fixed(c.busySweepMs, 0)} (${billedMs(c.busySweepMs)})`,
    ),
    line('billed GB·s: start + status read', (c) => fixed(c.perRun.callGbs, 4)),
    line('billed GB·s: one busy sweep', (c) => fixed(c.perRun.busySweepGbs, 4)),
    line('Document API requests (by action)', (c) =>
      Object.entries(c.docByAction)
        .map(([action, n]) => `${action} ${Number(n.toFixed(1))}`)
        .join(', '),
    ),
    line(
      'run item at the start / at the end; operation-id item, bytes',
      (c) => `${c.runItemBytes.start} / ${c.runItemBytes.end}; ${c.opItemBytes}`,
    ),
    line('RU: point reads and writes', (c) => fixed(c.perRun.pointRu, 0)),
    line("bytes its sweeps' Queries returned for it", (c) => int(c.perRun.queryBytes)),
    line("RU the open index's writes would add, if billed", (c) => fixed(c.perRun.indexRu, 0)),
    line(
      "PutItem 1 KB blocks: dynalite's ConsumedCapacity / ours",
      (c) => `${fixed(c.capacityUnits, 0)} / ${fixed(c.writeBlocks, 0)}`,
    ),
    line(
      'Message Queue requests (message bytes)',
      (c) => `${fixed(c.perRun.queueRequests, 0)} (${c.queueBytes})`,
    ),
    line('webhook POSTs', (c) => fixed(c.webhookPosts, 0)),
    line('log bytes (its calls, its sweeps over idle ones)', (c) => int(c.perRun.logBytes)),
  ];
  const fixedCosts = [
    '',
    `Every minute without runs: the sweep (check, ${extra.memory.check} MB) ${fixed(extra.idleSweepMs, 0)} ms → ` +
      `${billedMs(extra.idleSweepMs)} ms billed, ${fixed(idle.sweepRu, 1)} RU, ${fixed(idle.sweepLogBytes, 0)} log bytes; ` +
      `the jobs tick (execute, ${extra.memory.execute} MB) ${fixed(extra.idleTickMs, 0)} ms → ${billedMs(extra.idleTickMs)} ms billed, ` +
      `${fixed(idle.tickRu, 1)} RU, ${fixed(idle.tickLogBytes, 0)} log bytes.`,
  ];
  const total = (m: Monthly) =>
    `${usd(m.functionsUsd + m.queueUsd)} + ${rub(m.ydbRub)}–${rub(m.ydbRubWithIndex)}`;
  const month = [
    '',
    '### A month at 500 runs a day (15,000 runs; 43,200 minutes of both timers)',
    '',
    head,
    rule,
    line('function calls (free: 1,000,000)', (c) => int(c.month.calls)),
    line('share of minutes whose sweep has a run due', (c) => `${fixed(c.month.busyShare * 100, 0)} %`),
    line(`GB×hour (free: ${PRICES.freeGbHours})`, (c) => fixed(c.month.gbHours, 1)),
    line('Cloud Functions, beyond the free tier', (c) => usd(c.month.functionsUsd)),
    line('Document API RU (free: 1,000,000)', (c) => int(c.month.ru)),
    line("… if the open index's writes are billed", (c) => int(c.month.ruWithIndex)),
    line(
      `YDB at ${PRICES.ruPerMillionRub} ₽ per million RU, beyond the free tier`,
      (c) => `${rub(c.month.ydbRub)}–${rub(c.month.ydbRubWithIndex)}`,
    ),
    line(
      'YDB storage added per month (free: 1 GB)',
      (c) => `${fixed(c.month.storageGbPerMonth * 1000, 1)} MB`,
    ),
    line(
      'Message Queue requests (free: 100,000)',
      (c) => `${int(c.month.queueRequests)} (${usd(c.month.queueUsd)})`,
    ),
    line('API Gateway requests (free: 100,000)', (c) => int(c.month.gatewayRequests)),
    line('Cloud Logging written (free: 5 GB)', (c) => `${fixed(c.month.logGb * 1000, 0)} MB`),
    line('total beyond the free tiers', (c) => total(c.month)),
  ];
  const method =
    "Counted by `npm run bench` (bench/cost-scenarios.ts): the built functions on the runtime's Node, warm, the ledger " +
    `on the Document API (dynalite behind a metering proxy), latency added per request: DataSphere ${DATASPHERE_LATENCY_MS} ms, ` +
    `Document API ${DOCAPI_LATENCY_MS} ms, Message Queue ${QUEUE_LATENCY_MS} ms; one sweep a minute (the functions' clocks jump), ` +
    'CHECK_FIRST_DELAY_SECONDS=0; memory from serverless.yaml; durations rounded up to 100 ms; RU by the documented ' +
    'formula (read 1 RU per 4 KB, write 2 RU per KB, per document; a Query by the data it returns, at least 1). A busy ' +
    'sweep is billed like the measured one-run sweep (runs are checked concurrently); the share of busy minutes is ' +
    '1 − e^(−runs × checks / minutes). Prices as in the README (Nov 2025); DataSphere compute is not included.';
  const markdown = ['## Cost from counted requests', '', method, '', ...perRun, ...fixedCosts, ...month].join(
    '\n',
  );
  const rows: Row[] = counts.map((c) =>
    info(`cost at 500 runs/day, ${c.kind.label}: beyond the free tiers`, total(c.month)),
  );
  const notes = [
    'Cost rows: see "Cost from counted requests" below for the counts and the month; dynalite\'s ConsumedCapacity ' +
      'for the writes (DynamoDB units: the larger of the old and the new item) is shown beside the blocks we count ' +
      '(the new item) as a cross-check of the item sizes.',
  ];
  return { rows, notes, markdown };
}
