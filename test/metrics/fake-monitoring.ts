/**
 * A local fake of Yandex Monitoring's `POST /monitoring/v2/data/write` (no real server can run here).
 * It checks every request against the public reference, independently of the product's own code, and
 * records it. The rules and where they come from (docs/metrics.md has the links):
 *
 * - MetricsData.write reference (yandex-cloud/docs en/monitoring/api-ref/MetricsData/write.md): query
 *   `folderId` and `service` required, each at most 50 characters (`service=custom` for custom
 *   metrics); body `{ts?, labels?, metrics: [{name, labels?, type?, ts?, value | timeseries}]}`; `ts` in
 *   RFC 3339; `value` a number; answer 200 `{"writtenMetricsCount": "<int64>"}`.
 * - Authentication reference: `Authorization: Bearer <IAM token>`.
 * - Quotas and limits: at most 10,000 metrics in one import request; at most 16 labels per metric,
 *   including the mandatory cloudId, folderId and service.
 * - Data model, label constraints: a label name is not empty, has no `-`, is at most 32 characters,
 *   starts with a letter and has only letters, digits, `.` and `_`; no non-Latin letters in label
 *   names or values.
 * Our own stricter reading, so a payload that passes here passes there: the metric name counts as a
 * label (`name` is how Monitoring stores it), so `name`, `cloudId`, `folderId` and `service` may not be
 * set as labels; a label value is not empty; unknown fields are refused (ProtoJSON parsers do); one
 * write must not carry two points of the same series at the same time.
 * A failed check answers 400 `{"code": 3, "message": …, "details": []}` like every Yandex REST API.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const WRITE_PATH = '/monitoring/v2/data/write';
export const MAX_METRICS_PER_REQUEST = 10_000;
export const MAX_LABELS_PER_METRIC = 16;
const MANDATORY_LABELS = ['cloudId', 'folderId', 'service'];
const RESERVED_LABELS = new Set(['name', ...MANDATORY_LABELS]);
const TYPES = new Set(['DGAUGE', 'IGAUGE', 'GAUGE', 'COUNTER', 'RATE']);
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const LABEL_NAME = /^[A-Za-z][A-Za-z0-9._]{0,31}$/;
/** Printable ASCII: no non-Latin letters, no control characters. */
const LATIN_TEXT = /^[\x20-\x7E]+$/;

// biome-ignore lint/suspicious/noExplicitAny: a decoded JSON body, checked field by field.
type Json = any;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function checkTs(value: unknown, at: string, problems: string[]): void {
  if (value === undefined) return;
  if (typeof value !== 'string' || !RFC3339.test(value) || !Number.isFinite(Date.parse(value))) {
    problems.push(`${at}: "${String(value)}" is not an RFC 3339 timestamp`);
  }
}

function checkLabels(value: unknown, at: string, problems: string[]): Record<string, string> {
  if (value === undefined) return {};
  if (!isObject(value)) {
    problems.push(`${at}: must be an object of string values`);
    return {};
  }
  const labels: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (!LABEL_NAME.test(key)) {
      problems.push(
        `${at}.${key}: a label name starts with a letter, has only letters, digits, . and _, at most 32 characters`,
      );
    }
    if (RESERVED_LABELS.has(key)) problems.push(`${at}.${key}: is reserved (set by Monitoring)`);
    if (typeof item !== 'string' || item === '') {
      problems.push(`${at}.${key}: a label value is a non-empty string`);
      continue;
    }
    if (!LATIN_TEXT.test(item)) problems.push(`${at}.${key}: "${item}" has characters other than Latin text`);
    labels[key] = item;
  }
  return labels;
}

/** Every problem of one write request (empty when it matches the reference). */
export function writeProblems(request: {
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
}): string[] {
  const problems: string[] = [];
  const folderId = request.query.get('folderId');
  if (folderId === null || folderId === '' || folderId.length > 50) {
    problems.push('query folderId: required, at most 50 characters');
  }
  if (request.query.get('service') !== 'custom') problems.push('query service: must be custom');
  const type = String(request.headers['content-type'] ?? '');
  if (!type.startsWith('application/json')) problems.push(`content-type: "${type}" is not application/json`);

  const body: Json = request.body;
  if (!isObject(body)) return [...problems, 'body: must be a JSON object'];
  for (const key of Object.keys(body)) {
    if (!['ts', 'labels', 'metrics'].includes(key)) problems.push(`body.${key}: unknown field`);
  }
  checkTs(body.ts, 'ts', problems);
  const common = checkLabels(body.labels, 'labels', problems);
  if (!Array.isArray(body.metrics) || body.metrics.length === 0) {
    return [...problems, 'metrics: a non-empty array is required'];
  }
  if (body.metrics.length > MAX_METRICS_PER_REQUEST) {
    problems.push(`metrics: ${body.metrics.length} > ${MAX_METRICS_PER_REQUEST} per request`);
  }
  const series = new Set<string>();
  body.metrics.forEach((metric: Json, index: number) => {
    const at = `metrics[${index}]`;
    if (!isObject(metric)) {
      problems.push(`${at}: must be an object`);
      return;
    }
    for (const key of Object.keys(metric)) {
      if (!['name', 'labels', 'type', 'ts', 'value', 'timeseries'].includes(key)) {
        problems.push(`${at}.${key}: unknown field`);
      }
    }
    if (typeof metric.name !== 'string' || metric.name === '' || !LATIN_TEXT.test(metric.name)) {
      problems.push(`${at}.name: required, Latin text`);
    }
    if (metric.type !== undefined && !TYPES.has(String(metric.type))) {
      problems.push(`${at}.type: "${String(metric.type)}" is not DGAUGE, IGAUGE, COUNTER or RATE`);
    }
    checkTs(metric.ts, `${at}.ts`, problems);
    const own = checkLabels(metric.labels, `${at}.labels`, problems);
    const all = { ...common, ...own };
    const count = Object.keys(all).length + MANDATORY_LABELS.length + 1;
    if (count > MAX_LABELS_PER_METRIC) {
      problems.push(
        `${at}: ${count} labels (with name, cloudId, folderId, service) > ${MAX_LABELS_PER_METRIC}`,
      );
    }
    const hasValue = metric.value !== undefined;
    const hasSeries = metric.timeseries !== undefined;
    if (hasValue === hasSeries) problems.push(`${at}: exactly one of value and timeseries`);
    if (hasValue && (typeof metric.value !== 'number' || !Number.isFinite(metric.value))) {
      problems.push(`${at}.value: must be a finite number`);
    }
    if (hasSeries) {
      if (!Array.isArray(metric.timeseries) || metric.timeseries.length === 0) {
        problems.push(`${at}.timeseries: a non-empty array`);
      } else {
        metric.timeseries.forEach((item: Json, i: number) => {
          checkTs(item?.ts, `${at}.timeseries[${i}].ts`, problems);
          if (typeof item?.value !== 'number') problems.push(`${at}.timeseries[${i}].value: a number`);
        });
      }
    }
    const key = JSON.stringify([
      metric.name,
      Object.entries(all).sort(([a], [b]) => a.localeCompare(b)),
      metric.ts ?? body.ts ?? null,
    ]);
    if (hasValue && series.has(key))
      problems.push(`${at}: a second point of the same series at the same time`);
    series.add(key);
  });
  return problems;
}

export interface ReceivedWrite {
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Json;
  readonly problems: readonly string[];
  /** The status this fake answered (0: the connection was dropped). */
  status: number;
}

export interface FakeMonitoring {
  /** Base URL to use as MONITORING_ENDPOINT. */
  readonly url: string;
  readonly writes: ReceivedWrite[];
  /** Answer every write with this status and body (undefined: validate and answer 200). */
  failWith: { status: number; body: string } | undefined;
  /** Hold every answer back this long. */
  delayMs: number;
  /** Requests received and not yet answered. */
  readonly pending: number;
  /** The token every request must carry (undefined: any non-empty bearer). */
  expectedToken: string | undefined;
  close(): Promise<void>;
}

export async function startFakeMonitoring(): Promise<FakeMonitoring> {
  const writes: ReceivedWrite[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const state = {
    failWith: undefined as { status: number; body: string } | undefined,
    delayMs: 0,
    expectedToken: undefined as string | undefined,
    pending: 0,
  };
  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      state.pending++;
      const url = new URL(req.url ?? '/', 'http://fake.invalid');
      const text = Buffer.concat(chunks).toString('utf8');
      let body: Json;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      const problems =
        req.method === 'POST' && url.pathname === WRITE_PATH
          ? writeProblems({ query: url.searchParams, headers: req.headers, body })
          : [`${req.method} ${url.pathname}: not the write method`];
      const auth = String(req.headers.authorization ?? '');
      const token = auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : '';
      const authorized = token !== '' && (state.expectedToken === undefined || token === state.expectedToken);
      const write: ReceivedWrite = {
        query: url.searchParams,
        headers: req.headers,
        body,
        problems,
        status: 0,
      };
      writes.push(write);
      const timer = setTimeout(() => {
        timers.delete(timer);
        state.pending--;
        if (res.destroyed) return;
        if (!authorized) {
          write.status = 401;
          answer(res, 401, { code: 16, message: 'The token is invalid', details: [] });
        } else if (state.failWith !== undefined) {
          write.status = state.failWith.status;
          res
            .writeHead(state.failWith.status, { 'content-type': 'application/json' })
            .end(state.failWith.body);
        } else if (problems.length > 0) {
          write.status = 400;
          answer(res, 400, { code: 3, message: problems.join('; '), details: [] });
        } else {
          write.status = 200;
          answer(res, 200, { writtenMetricsCount: String(body.metrics.length) });
        }
      }, state.delayMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.defineProperties({ url: `http://127.0.0.1:${port}`, writes } as FakeMonitoring, {
    failWith: { get: () => state.failWith, set: (v) => (state.failWith = v), enumerable: true },
    delayMs: { get: () => state.delayMs, set: (v) => (state.delayMs = v), enumerable: true },
    expectedToken: {
      get: () => state.expectedToken,
      set: (v) => (state.expectedToken = v),
      enumerable: true,
    },
    pending: { get: () => state.pending, enumerable: true },
    close: {
      value: () =>
        new Promise<void>((resolve) => {
          for (const timer of timers) clearTimeout(timer);
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    },
  });
}

/** The value of one point in a write (undefined when the write has no such point). */
export function pointValue(
  body: Json,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const match = (body?.metrics ?? []).find(
    (m: Json) =>
      m.name === name &&
      Object.entries(labels).every(([key, value]) => m.labels?.[key] === value) &&
      Object.keys(m.labels ?? {}).length === Object.keys(labels).length,
  );
  return match?.value;
}
