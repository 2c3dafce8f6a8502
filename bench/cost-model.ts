// The billing rules and the monthly arithmetic of the cost table, kept apart from the measuring so that
// they can be read and tested on their own. Every input is a count the bench measured (bench/
// cost-scenarios.ts); the prices are the README's ("What it costs"), read in November 2025.
//
// Rules applied:
// - Cloud Functions: per call, and per GB·s = duration rounded UP to 100 ms × the function's memory.
// - YDB Document API (docs: ydb/pricing/ru-docapi): per document, read 1 RU per 4 KB block, write
//   (PutItem/UpdateItem) 2 RU per 1 KB block, DeleteItem 2 RU, schema calls 0; a missing document reads
//   as one block; Query/Scan by the data read, whatever the number of documents (counted here as at
//   least one block per request). Whether the writes of a secondary index are billed is not documented
//   for the Document API: the table shows RU without and with them.
// - Message Queue: per request, each 64 KB of a message counting as one.

export const PRICES = {
  /** USD per million function calls; 1,000,000 free a month. */
  functionCallsPerMillionUsd: 0.1554917784,
  freeFunctionCalls: 1_000_000,
  /** USD per GB·hour; 10 free a month. */
  gbHourUsd: 0.0531147456,
  freeGbHours: 10,
  /** RUB per million RU (from a course summary, not the price list; see the README); 1,000,000 free. */
  ruPerMillionRub: 21.38,
  freeRu: 1_000_000,
  /** USD per million Message Queue requests; 100,000 free. */
  queueRequestsPerMillionUsd: 0.39008,
  freeQueueRequests: 100_000,
  freeGatewayRequests: 100_000,
  freeLogGb: 5,
  freeStorageGb: 1,
} as const;

/** Billed duration of one call, ms: rounded up to 100 ms (a call is never billed less than 100 ms). */
export function billedMs(wallMs: number): number {
  return Math.max(100, Math.ceil(wallMs / 100) * 100);
}

/** Billed GB·s of one call. */
export function gbSeconds(wallMs: number, memoryMb: number): number {
  return (billedMs(wallMs) / 1000) * (memoryMb / 1024);
}

/** RU of reading `bytes` of documents in one request (at least one block). */
export function readRu(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 4096));
}

/** RU of writing one document of `bytes`. */
export function writeRu(bytes: number): number {
  return 2 * Math.max(1, Math.ceil(bytes / 1024));
}

type AttributeValue = Record<string, unknown>;

const utf8 = (text: string): number => Buffer.byteLength(text, 'utf8');

/** Size of one attribute value by DynamoDB's item-size rules (which the Document API follows). */
export function valueSize(value: AttributeValue): number {
  const [type, inner] = Object.entries(value)[0] ?? [];
  switch (type) {
    case 'S':
      return utf8(String(inner));
    case 'N':
      return numberSize(String(inner));
    case 'B':
      return Buffer.from(String(inner), 'base64').length;
    case 'BOOL':
    case 'NULL':
      return 1;
    case 'SS':
      return (inner as string[]).reduce((sum, s) => sum + utf8(s), 0);
    case 'NS':
      return (inner as string[]).reduce((sum, n) => sum + valueSize({ N: n }), 0);
    case 'BS':
      return (inner as string[]).reduce((sum, b) => sum + Buffer.from(b, 'base64').length, 0);
    case 'L':
      return 3 + (inner as AttributeValue[]).reduce((sum, v) => sum + 1 + valueSize(v), 0);
    case 'M':
      return (
        3 +
        Object.entries(inner as Record<string, AttributeValue>).reduce(
          (sum, [name, v]) => sum + 1 + utf8(name) + valueSize(v),
          0,
        )
      );
    default:
      return 0;
  }
}

/**
 * A number's stored size: about one byte per two significant digits plus one, as DynamoDB documents
 * ("up to 38 significant digits ... 21 bytes"), with the exact rule dynalite uses.
 */
function numberSize(text: string): number {
  const negative = text.trim().startsWith('-');
  const [mantissa = '', exponent = '0'] = text.trim().replace(/^[-+]/, '').toLowerCase().split('e');
  const [whole = '', fraction = ''] = mantissa.split('.');
  const digits = `${whole}${fraction}`;
  const first = digits.search(/[1-9]/);
  if (first < 0) return 1;
  const significant = digits.slice(first).replace(/0+$/, '').length;
  // Decimal exponent of the first significant digit.
  const e = whole.length - 1 - first + Number(exponent);
  return 1 + Math.ceil(significant / 2) + (significant % 2 !== 0 || e % 2 !== 0 ? 0 : 1) + (negative ? 1 : 0);
}

/** Size of an item: every attribute's name plus its value (strings in UTF-8 bytes). */
export function itemSize(item: Record<string, AttributeValue>): number {
  return Object.entries(item).reduce((sum, [name, value]) => sum + utf8(name) + valueSize(value), 0);
}

/** What one run of a kind cost, counted (its start, its status read, the sweeps that had it due). */
export interface PerRun {
  /** Function calls made for the run alone (start, status read). */
  readonly calls: number;
  /** Their billed GB·s. */
  readonly callGbs: number;
  /** Sweeps that had the run due. */
  readonly sweepsDue: number;
  /** Billed GB·s of one such sweep (median). */
  readonly busySweepGbs: number;
  /** RU of the point requests (GetItem, PutItem) of the start, the status read and the run's sweeps. */
  readonly pointRu: number;
  /** RU the open index's writes would add, if billed. */
  readonly indexRu: number;
  /** Bytes the sweeps' Queries returned for this run, and how many Queries a busy sweep makes. */
  readonly queryBytes: number;
  readonly queriesPerBusySweep: number;
  /** Message Queue requests (64 KB units) and API Gateway requests (start + status read). */
  readonly queueRequests: number;
  readonly gatewayRequests: number;
  /** Log bytes the run adds (its calls, and its sweeps over idle ones). */
  readonly logBytes: number;
  /** Bytes the run leaves in the table (its record and its operation-id item). */
  readonly storedBytes: number;
}

/** What the per-minute timers cost with no run to follow. */
export interface Idle {
  readonly sweepGbs: number;
  readonly sweepRu: number;
  readonly sweepLogBytes: number;
  readonly tickGbs: number;
  readonly tickRu: number;
  readonly tickLogBytes: number;
}

export interface Monthly {
  readonly runs: number;
  readonly minutes: number;
  readonly calls: number;
  readonly gbHours: number;
  /** Share of the minutes whose sweep has at least one run due. */
  readonly busyShare: number;
  readonly ru: number;
  readonly ruWithIndex: number;
  readonly queueRequests: number;
  readonly gatewayRequests: number;
  readonly logGb: number;
  readonly storageGbPerMonth: number;
  readonly functionsUsd: number;
  readonly queueUsd: number;
  readonly ydbRub: number;
  readonly ydbRubWithIndex: number;
}

/**
 * A month of `runsPerDay` runs of one kind plus the two per-minute timers. Runs start uniformly over
 * time, so the share of sweeps with work is 1 − e^(−runs × sweepsDue / minutes) (Poisson); a busy sweep
 * checks its runs concurrently (up to CHECK_CONCURRENCY), so it is billed like the measured one-run
 * sweep, and its Query reads the due records of all of them (the blocks are counted on the sum).
 */
export function monthly(perRun: PerRun, idle: Idle, runsPerDay = 500, days = 30): Monthly {
  const minutes = days * 1440;
  const runs = runsPerDay * days;
  const calls = 2 * minutes + runs * perRun.calls;
  const busyShare = 1 - Math.exp((-runs * perRun.sweepsDue) / minutes);
  const busy = minutes * busyShare;
  const gbs =
    minutes * idle.tickGbs +
    busy * perRun.busySweepGbs +
    (minutes - busy) * idle.sweepGbs +
    runs * perRun.callGbs;
  const bytesPerBusySweep = busy > 0 ? (runs * perRun.queryBytes) / busy : 0;
  // A busy sweep's Queries: one returns the due records, the others (the next page) come back empty.
  const busyQueryRu = busy * (Math.max(0, perRun.queriesPerBusySweep - 1) + readRu(bytesPerBusySweep));
  const ru = minutes * idle.tickRu + (minutes - busy) * idle.sweepRu + busyQueryRu + runs * perRun.pointRu;
  const ruWithIndex = ru + runs * perRun.indexRu;
  const gbHours = gbs / 3600;
  const queueRequests = runs * perRun.queueRequests;
  const functionsUsd =
    (Math.max(0, calls - PRICES.freeFunctionCalls) / 1e6) * PRICES.functionCallsPerMillionUsd +
    Math.max(0, gbHours - PRICES.freeGbHours) * PRICES.gbHourUsd;
  const ydb = (units: number) => (Math.max(0, units - PRICES.freeRu) / 1e6) * PRICES.ruPerMillionRub;
  return {
    runs,
    minutes,
    calls,
    gbHours,
    busyShare,
    ru,
    ruWithIndex,
    queueRequests,
    gatewayRequests: runs * perRun.gatewayRequests,
    logGb: (minutes * (idle.sweepLogBytes + idle.tickLogBytes) + runs * perRun.logBytes) / 1e9,
    storageGbPerMonth: (runs * perRun.storedBytes) / 1e9,
    functionsUsd,
    queueUsd:
      (Math.max(0, queueRequests - PRICES.freeQueueRequests) / 1e6) * PRICES.queueRequestsPerMillionUsd,
    ydbRub: ydb(ru),
    ydbRubWithIndex: ydb(ruWithIndex),
  };
}
