import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import aws4 from 'aws4';
import type { Dispatcher } from 'undici';
import type { RunRecord } from '../core/run-record.ts';
import { isRunnerError, RunnerError } from '../errors.ts';
import { errnoCode, isUnreadableRecord, ledgerError } from './ledger-error.ts';
import {
  assertCreatable,
  assertSlotArguments,
  assertUpdatable,
  detached,
  dueByMillis,
  dueMillis,
  parseStoredRecord,
} from './record-checks.ts';
import {
  createdMillis,
  dayName,
  dayStart,
  historyDays,
  type RunHistoryEntry,
  type RunHistoryPage,
  type RunHistoryQuery,
  type RunPosition,
} from './run-history.ts';
import type { ConcurrencySlot, CreateResult, LedgerObserver, RunLedger, SlotClaim } from './run-ledger.ts';

/**
 * The run ledger on a YDB serverless database through its DynamoDB-compatible Document API
 * (`RUN_STORE=docapi:<endpoint>`). Only CreateTable, DescribeTable, PutItem (conditional), GetItem and
 * Query are used: no transactions, streams or local indexes (YDB and dynalite lack some of them).
 *
 * Items (hash key `pk`, one table):
 * - `run#<runId>`: `doc` (the record as JSON text), `version` (N), `wt` (a random token per write, to
 *   recognise our own write after an ambiguous retry), `operationId` (S, when set), and, only while
 *   the record carries `nextCheckAt`, `openShard` + `nextCheckAt` (normalised ISO): the keys of the
 *   sparse GSI `open-index`. listDue/listOpen Query that index, so a sweep reads open runs only.
 * - `op#<operationId>`: `runId`. Written BEFORE the run item that carries the operationId (so a
 *   committed run is always findable) and checked against the run on read (a leftover entry from a
 *   lost compare-and-set or a changed operationId finds nothing). A separate item instead of a second
 *   GSI because an operationId never changes once set, while a GSI with ProjectionType ALL (the only
 *   one YDB offers) would copy every record of the whole history and be rewritten on every check.
 *
 * - `slot#<scope>`: `holder` (a runId) and `since`: the holder of a concurrency scope. Taken with PutItem
 *   `attribute_not_exists(holder)`, handed over with PutItem `holder = :from`, freed with DeleteItem
 *   `holder = :runId`: every change is one conditional write.
 *
 * create = PutItem `attribute_not_exists(pk)`; update = PutItem `version = :expected` (the common
 * case also asserts the operationId is unchanged, so that only a change of it costs the extra write).
 * A run item whose `doc` is not a readable record is set aside when a listing meets it: rewritten
 * without its index keys (conditional on its write token), with `setAsideAt`, its `doc` untouched.
 */
export type DocApiAuth =
  | {
      readonly kind: 'sigv4';
      readonly accessKeyId: string;
      readonly secretAccessKey: string;
      /** @default 'ru-central1' */
      readonly region?: string;
    }
  | {
      readonly kind: 'bearer';
      /** The IAM token to send as `Authorization: Bearer`; called per request (tokens expire). */
      readonly token: () => Promise<string>;
    };

export interface DocApiLedgerOptions extends LedgerObserver {
  /** Document API endpoint of the database, e.g. `https://docapi.serverless.yandexcloud.net/ru-central1/<cloud>/<db>`. */
  readonly endpoint: string;
  /** @default 'datasphere_runs' */
  readonly table?: string;
  readonly dispatcher: Dispatcher;
  readonly auth: DocApiAuth;
  /** Create the table (with its index) on first use when it is missing. @default true */
  readonly createTable?: boolean;
  /** Tries per request when throttled, on 5xx or a dropped connection. @default 4 */
  readonly maxAttempts?: number;
  /** @default 10000 */
  readonly requestTimeoutMs?: number;
  /** Longest wait for a new table to become ACTIVE. @default 60000 */
  readonly tableReadyTimeoutMs?: number;
  /** Items per Query page. @default 100 */
  readonly pageSize?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly now?: () => number;
}

/** Name of the sparse GSI over runs that carry `nextCheckAt`. */
export const OPEN_INDEX = 'open-index';
/** Name of the GSI over the history entries (`hist#` items): hash `day`, range `created`. */
export const HISTORY_INDEX = 'history-index';
/** Most entries one history Query reads when filters may drop some (the items are small). */
const HISTORY_QUERY_LIMIT = 100;
/** BatchGetItem takes at most 100 keys. */
const BATCH_GET_MAX = 100;
const OPEN_SHARD = 'open';
const TARGET = 'DynamoDB_20120810';
/** ISO strings sort like instants only between years 0000 and 9999: keep index keys inside. */
const MIN_ISO_MS = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
const MAX_ISO_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const RETRYABLE_TYPES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  // YDB rejects a write that meets another transaction on the item; it was not applied.
  'TransactionConflictException',
]);

type AttributeValue = { readonly S: string } | { readonly N: string };
type Item = Record<string, AttributeValue | undefined>;

/** A Document API call that the service answered with an error. Carries no credential. */
export class DocApiError extends RunnerError {
  readonly action: string;
  readonly awsType: string;
  readonly statusCode: number;
  constructor(action: string, table: string, statusCode: number, awsType: string, message: string) {
    super(
      'LEDGER_ERROR',
      `Document API ${action} on table ${table} failed: ${awsType} (HTTP ${statusCode}): ${message}`,
      {
        details: { action, table, awsType, statusCode },
      },
    );
    this.name = 'DocApiError';
    this.action = action;
    this.awsType = awsType;
    this.statusCode = statusCode;
  }
}

const isAwsError = (error: unknown, type: string): boolean =>
  error instanceof DocApiError && error.awsType === type;

/** Open the Document API ledger. No request is made before the first call. */
export function createDocApiLedger(options: DocApiLedgerOptions): RunLedger {
  const table = options.table ?? 'datasphere_runs';
  const endpoint = parseEndpoint(options.endpoint);
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const timeout = options.requestTimeoutMs ?? 10_000;
  const pageSize = Math.max(1, options.pageSize ?? 100);
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const secrets: string[] = options.auth.kind === 'sigv4' ? [options.auth.secretAccessKey] : [];

  const redact = (text: string): string => {
    let out = text
      .replace(/Bearer\s+[^\s"',]+/gi, 'Bearer ***')
      .replace(/Signature=[0-9a-f]+/gi, 'Signature=***')
      .replace(/\bt1\.[A-Za-z0-9_.-]+/g, 't1.***');
    for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('***');
    return out;
  };

  const headersFor = async (action: string, body: string): Promise<Record<string, string>> => {
    const base = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `${TARGET}.${action}` };
    const auth = options.auth;
    if (auth.kind === 'bearer') {
      let token: string;
      try {
        token = await auth.token();
      } catch (error) {
        if (isRunnerError(error)) throw error;
        throw ledgerError(`Document API ${action}: no IAM token available`, error, { action });
      }
      if (!secrets.includes(token)) secrets.push(token);
      return { ...base, authorization: `Bearer ${token}` };
    }
    const signed = aws4.sign(
      {
        host: endpoint.host,
        path: endpoint.path,
        method: 'POST',
        service: 'dynamodb',
        region: auth.region ?? 'ru-central1',
        headers: base,
        body,
      },
      { accessKeyId: auth.accessKeyId, secretAccessKey: auth.secretAccessKey },
    );
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers ?? {})) {
      if (value !== undefined) headers[name.toLowerCase()] = String(value);
    }
    return headers;
  };

  type Attempt =
    | { readonly ok: Record<string, unknown> }
    | { readonly retry: boolean; readonly error: RunnerError };

  const attempt = async (action: string, body: string): Promise<Attempt> => {
    const headers = await headersFor(action, body);
    let statusCode: number;
    let text: string;
    try {
      // dispatcher.request, not undici's request(): the runtime's dispatcher is node's http client.
      const response = await options.dispatcher.request({
        origin: endpoint.origin,
        path: endpoint.path,
        method: 'POST',
        headers,
        body,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
      statusCode = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      const reason = errnoCode(error) ?? (error instanceof Error ? error.message : String(error));
      return {
        retry: true,
        error: ledgerError(`Document API ${action} on table ${table} failed: ${redact(reason)}`, error, {
          action,
          table,
        }),
      };
    }
    if (statusCode === 200) {
      try {
        return { ok: JSON.parse(text) as Record<string, unknown> };
      } catch (error) {
        return {
          retry: false,
          error: ledgerError(`Document API ${action} on table ${table}: answer is not JSON`, error, {
            action,
            table,
          }),
        };
      }
    }
    const { type, message } = parseAwsError(text, statusCode);
    return {
      retry: statusCode >= 500 || RETRYABLE_TYPES.has(type),
      error: new DocApiError(action, table, statusCode, type, redact(message)),
    };
  };

  /** One Document API action, retried with jittered backoff when throttled, on 5xx or a dropped connection. */
  const call = async (action: string, payload: object): Promise<Record<string, unknown>> => {
    const body = JSON.stringify(payload);
    for (let n = 1; ; n += 1) {
      const result = await attempt(action, body);
      if ('ok' in result) return result.ok;
      if (!result.retry || n >= maxAttempts) throw result.error;
      const base = Math.min(1_000, 50 * 2 ** (n - 1));
      await sleep(base / 2 + random() * (base / 2));
    }
  };

  const describe = async (): Promise<TableDescription | undefined> => {
    try {
      const out = await call('DescribeTable', { TableName: table });
      return out.Table as TableDescription | undefined;
    } catch (error) {
      if (isAwsError(error, 'ResourceNotFoundException')) return undefined;
      throw error;
    }
  };

  const ensureTable = async (): Promise<void> => {
    let description = await describe();
    if (description === undefined) {
      try {
        await call('CreateTable', tableDefinition(table));
      } catch (error) {
        if (!isAwsError(error, 'ResourceInUseException')) throw error;
      }
    }
    const started = now();
    let wait = 25;
    while (!isActive(description)) {
      if (now() - started > (options.tableReadyTimeoutMs ?? 60_000)) {
        throw ledgerError(`Document API table ${table} did not become ACTIVE in time`, undefined, { table });
      }
      await sleep(wait);
      wait = Math.min(wait * 2, 1_000);
      description = await describe();
    }
    if (!(description?.GlobalSecondaryIndexes ?? []).some((index) => index.IndexName === OPEN_INDEX)) {
      throw ledgerError(
        `Document API table ${table} exists without the ${OPEN_INDEX} index (hash openShard, range nextCheckAt): ` +
          'it was not created by this product; use another RUN_STORE_TABLE',
        undefined,
        { table },
      );
    }
  };

  let tableReady: Promise<void> | undefined;
  const ready = (): Promise<void> => {
    if (options.createTable === false) return Promise.resolve();
    tableReady ??= ensureTable().catch((error: unknown) => {
      tableReady = undefined;
      throw error;
    });
    return tableReady;
  };

  /** Conditional PutItem: false when the condition did not hold. */
  const putIf = async (
    item: Item,
    condition: string,
    names: Record<string, string>,
    values?: Record<string, AttributeValue>,
  ): Promise<boolean> => {
    try {
      await call('PutItem', {
        TableName: table,
        Item: item,
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ...(values === undefined ? {} : { ExpressionAttributeValues: values }),
      });
      return true;
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) return false;
      throw error;
    }
  };

  const getItem = async (pk: string): Promise<Item | undefined> => {
    const out = await call('GetItem', { TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true });
    return out.Item as Item | undefined;
  };

  /** The record of a run item; an UnreadableRecordError (naming `<table>/<pk>`) when it holds none. */
  const decode = (item: Item): RunRecord => {
    const pk = stringOf(item.pk) ?? '?';
    const runId = pk.startsWith('run#') ? pk.slice('run#'.length) : undefined;
    const doc = stringOf(item.doc);
    return parseStoredRecord(doc ?? 'undefined', `${table}/${pk}`, runId);
  };

  /**
   * Takes a run item that holds no readable record out of the open index: the item is written back
   * without `openShard`/`nextCheckAt`, with `setAsideAt`, only if nobody rewrote it meanwhile (same
   * write token). Its `doc` stays as it is, for inspection. Reported once, by the writer that won.
   */
  const setAside = async (pk: string): Promise<void> => {
    const stored = await getItem(pk);
    if (stored === undefined || stored.openShard === undefined) return;
    let problem: unknown;
    try {
      decode(stored);
    } catch (error) {
      problem = error;
    }
    if (!isUnreadableRecord(problem)) return;
    const { openShard: _shard, nextCheckAt: _due, ...rest } = stored;
    const wt = stringOf(stored.wt);
    const written = await putIf(
      { ...rest, setAsideAt: { S: new Date(now()).toISOString() } },
      wt === undefined ? 'attribute_not_exists(#wt)' : '#wt = :wt',
      { '#wt': 'wt' },
      wt === undefined ? undefined : { ':wt': { S: wt } },
    );
    if (written) {
      options.onUnreadable?.({
        ...(problem.runId === undefined ? {} : { runId: problem.runId }),
        location: problem.location,
        reason: problem.reason,
      });
    }
  };

  const putOperation = async (operationId: string, runId: string): Promise<void> => {
    await call('PutItem', {
      TableName: table,
      Item: { pk: { S: `op#${operationId}` }, runId: { S: runId } },
    });
  };

  const get = async (runId: string): Promise<RunRecord | undefined> => {
    const item = await getItem(`run#${runId}`);
    return item === undefined ? undefined : decode(item);
  };

  const queryOpen = async (dueBy: number | undefined, limit: number): Promise<RunRecord[]> => {
    const found: RunRecord[] = [];
    let start: unknown;
    do {
      const out = await call('Query', {
        TableName: table,
        IndexName: OPEN_INDEX,
        KeyConditionExpression: dueBy === undefined ? '#s = :s' : '#s = :s AND #n <= :due',
        ExpressionAttributeNames:
          dueBy === undefined ? { '#s': 'openShard' } : { '#s': 'openShard', '#n': 'nextCheckAt' },
        ExpressionAttributeValues: {
          ':s': { S: OPEN_SHARD },
          ...(dueBy === undefined ? {} : { ':due': { S: isoKey(dueBy) } }),
        },
        ScanIndexForward: true,
        Limit: Math.min(pageSize, limit - found.length),
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      });
      for (const item of (out.Items as Item[] | undefined) ?? []) {
        let record: RunRecord;
        try {
          record = decode(item);
        } catch (error) {
          if (!isUnreadableRecord(error)) throw error;
          // One damaged item never fails a sweep: set it aside (best effort) and list the others.
          await setAside(stringOf(item.pk) ?? '').catch(() => {});
          continue;
        }
        const due = dueMillis(record);
        // The index is eventually consistent: keep only what the record itself says is open and due.
        if (due !== undefined && (dueBy === undefined || due <= dueBy) && found.length < limit)
          found.push(record);
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined && found.length < limit);
    return found;
  };

  const putHistory = async (record: RunRecord, createdAt: number): Promise<void> => {
    await call('PutItem', { TableName: table, Item: historyItem(record, createdAt) });
  };

  let historyActive = false;
  /**
   * The history index must exist and be ACTIVE before listRuns may read it. A table made by an earlier
   * version has only the open index: the first listRuns asks UpdateTable to add it (the sweep and the
   * starts never wait for that) and answers a LEDGER_ERROR (503) until the index is built.
   */
  const historyReady = async (): Promise<void> => {
    // createTable false: the table is someone else's to manage; take it as it is (like ready()).
    if (historyActive || options.createTable === false) return;
    let status = indexStatus(await describe(), HISTORY_INDEX);
    let refused: string | undefined;
    if (status === undefined) {
      try {
        await call('UpdateTable', addHistoryIndex(table));
      } catch (error) {
        refused = error instanceof Error ? error.message : String(error);
      }
      status = indexStatus(await describe(), HISTORY_INDEX);
    }
    if (status === undefined) {
      const why =
        refused !== undefined
          ? `adding it failed: ${refused}`
          : 'UpdateTable was accepted, yet the index did not appear (this Document API cannot add an index to an existing table)';
      throw ledgerError(
        `Document API table ${table} has no ${HISTORY_INDEX} index (hash day, range created; the run history ` +
          `needs it) and ${why}. Add it with UpdateTable (GlobalSecondaryIndexUpdates Create ${HISTORY_INDEX}, ` +
          'ProjectionType ALL), or point RUN_STORE_TABLE at a new table (created with it)',
        undefined,
        { table, index: HISTORY_INDEX },
      );
    }
    if (status !== 'ACTIVE') {
      throw ledgerError(
        `Document API table ${table}: the ${HISTORY_INDEX} index is being built (${status}); ` +
          'the run history is available once it is ACTIVE, try again in a minute',
        undefined,
        { table, index: HISTORY_INDEX },
      );
    }
    historyActive = true;
  };

  /** The run items behind `entries` (one BatchGetItem per 100), retrying what the service left unprocessed. */
  const batchGet = async (runIds: readonly string[]): Promise<Map<string, Item>> => {
    const found = new Map<string, Item>();
    for (let i = 0; i < runIds.length; i += BATCH_GET_MAX) {
      let keys: unknown[] = runIds
        .slice(i, i + BATCH_GET_MAX)
        .map((runId) => ({ pk: { S: `run#${runId}` } }));
      for (let n = 1; keys.length > 0; n += 1) {
        const out = await call('BatchGetItem', {
          RequestItems: { [table]: { Keys: keys, ConsistentRead: true } },
        });
        const items = (out.Responses as Record<string, Item[]> | undefined)?.[table] ?? [];
        for (const item of items) {
          const pk = stringOf(item.pk);
          if (pk !== undefined) found.set(pk.slice('run#'.length), item);
        }
        const left = (out.UnprocessedKeys as Record<string, { Keys?: unknown[] }> | undefined)?.[table]?.Keys;
        keys = left ?? [];
        if (keys.length === 0) break;
        if (n >= maxAttempts) {
          throw ledgerError(
            `Document API BatchGetItem on table ${table}: ${keys.length} keys still unprocessed after ${n} tries`,
            undefined,
            { table, action: 'BatchGetItem' },
          );
        }
        const base = Math.min(1_000, 50 * 2 ** (n - 1));
        await sleep(base / 2 + random() * (base / 2));
      }
    }
    return found;
  };

  const listHistory = async (query: RunHistoryQuery): Promise<RunHistoryPage> => {
    const days = historyDays(query);
    const runs: RunRecord[] = [];
    const unreadable: { ref: string; reason: string }[] = [];
    const entryFiltered = query.matchEntry !== undefined;
    let scanned = 0;
    /** Position of the last entry whose outcome is decided (answered or left out). */
    let last: RunPosition | undefined;
    const lo = isoKey(query.since.getTime());
    const untilKey = isoKey(query.until.getTime());
    // Continuing: the position's own key bounds the range (BETWEEN is inclusive, so that one entry,
    // answered on the previous page, is read again and skipped).
    const positionKey =
      query.after === undefined ? undefined : historyKey(query.after.createdAt, query.after.key);
    const hi = positionKey !== undefined && positionKey < untilKey ? positionKey : untilKey;
    const after = query.after;
    /** The position's own entry is in this day's range (so one more item must be read). */
    const skipsPosition = (day: number): boolean =>
      after !== undefined && after.key !== '' && hi === positionKey && dayStart(after.createdAt) === day;

    // Entries examined but not yet decided, in order: those to read (`entry`) and those left out.
    const pending: { position: RunPosition | undefined; entry?: RunHistoryEntry }[] = [];
    let toRead = 0;
    let read = 0;
    let matched = 0;
    /**
     * How many records to read at once: what the page still needs, scaled by how selective the record
     * filter has been so far (a status filter that keeps 1 run in 10 reads 10 per missing run), at
     * most one BatchGetItem. Without a record filter, exactly what the page still needs.
     */
    const batchTarget = (): number => {
      const need = query.limit - runs.length;
      if (query.match === undefined) return need;
      const spread = read === 0 ? 1 : Math.ceil(read / Math.max(1, matched));
      return Math.min(BATCH_GET_MAX, need * spread);
    };

    /** Reads the pending records and decides them in order; false when the page filled up first. */
    const flush = async (): Promise<boolean> => {
      const items =
        toRead === 0
          ? new Map<string, Item>()
          : await batchGet(pending.flatMap((p) => (p.entry ? [p.entry.runId] : [])));
      let decided = 0;
      for (const p of pending) {
        if (runs.length === query.limit) break;
        decided += 1;
        if (p.position !== undefined) last = p.position;
        if (p.entry === undefined) continue;
        read += 1;
        const item = items.get(p.entry.runId);
        if (item === undefined) continue; // an entry whose create never completed
        let record: RunRecord;
        try {
          record = decode(item);
        } catch (error) {
          unreadable.push({
            ref: p.entry.runId,
            reason: error instanceof Error ? error.message : String(error),
          });
          continue;
        }
        if (query.match !== undefined && !query.match(record)) continue;
        matched += 1;
        runs.push(record);
      }
      const complete = decided === pending.length;
      pending.length = 0;
      toRead = 0;
      return complete;
    };

    for (const [d, day] of days.entries()) {
      if (d === query.dayLimit) return { runs, next: { createdAt: days[d - 1] ?? day, key: '' }, unreadable };
      let start: unknown;
      let first = true;
      do {
        const left = query.scanLimit - scanned;
        const want =
          entryFiltered || query.match !== undefined
            ? Math.min(HISTORY_QUERY_LIMIT, left)
            : Math.min(query.limit - runs.length, left);
        const out = await call('Query', {
          TableName: table,
          IndexName: HISTORY_INDEX,
          KeyConditionExpression: '#d = :d AND #c BETWEEN :lo AND :hi',
          ExpressionAttributeNames: { '#d': 'day', '#c': 'created' },
          ExpressionAttributeValues: { ':d': { S: dayName(day) }, ':lo': { S: lo }, ':hi': { S: hi } },
          ScanIndexForward: false,
          Limit: want + (first && skipsPosition(day) ? 1 : 0),
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        });
        first = false;
        start = out.LastEvaluatedKey;
        const items = ((out.Items as Item[] | undefined) ?? []).filter(
          (item) => stringOf(item.created) !== positionKey,
        );
        for (const [i, item] of items.entries()) {
          const entry = historyEntry(item);
          scanned += 1;
          const position = positionOf(stringOf(item.created));
          if (entry === undefined) {
            unreadable.push({ ref: stringOf(item.pk) ?? '?', reason: 'history entry lacks its fields' });
            pending.push({ position });
          } else if (query.matchEntry === undefined || query.matchEntry(entry)) {
            pending.push({ position, entry });
            toRead += 1;
          } else {
            pending.push({ position });
          }
          const atScanLimit = scanned === query.scanLimit;
          if (toRead >= batchTarget() || atScanLimit) {
            const complete = await flush();
            if (runs.length === query.limit || atScanLimit) {
              const exhausted =
                complete && i === items.length - 1 && start === undefined && d === days.length - 1;
              return { runs, next: exhausted ? undefined : last, unreadable };
            }
          }
        }
        const complete = await flush();
        if (runs.length === query.limit) {
          const exhausted = complete && start === undefined && d === days.length - 1;
          return { runs, next: exhausted ? undefined : last, unreadable };
        }
      } while (start !== undefined);
    }
    return { runs, next: undefined, unreadable };
  };

  return {
    async create(record): Promise<CreateResult> {
      assertCreatable(record);
      const createdAt = createdMillis(record);
      await ready();
      if (record.operationId !== undefined) await putOperation(record.operationId, record.runId);
      // Before the run item, like the operation entry: a committed run is always in the history.
      await putHistory(record, createdAt);
      const token = randomUUID();
      if (await putIf(runItem(record, token), 'attribute_not_exists(#pk)', { '#pk': 'pk' })) {
        return { created: true, record: detached(record) };
      }
      const stored = await getItem(`run#${record.runId}`);
      if (stored === undefined) {
        throw ledgerError(
          `Document API: create of run ${record.runId} conflicted, yet the run is missing`,
          undefined,
          {
            table,
          },
        );
      }
      // Our own earlier attempt may have landed before a retry (5xx, dropped connection).
      const result: CreateResult = { created: stringOf(stored.wt) === token, record: decode(stored) };
      // A lost race may have overwritten the winner's history entry with our createdAt: put it back.
      const storedAt = Date.parse(result.record.createdAt);
      if (!result.created && storedAt !== createdAt && Number.isFinite(storedAt)) {
        await putHistory(result.record, storedAt);
      }
      return result;
    },

    async get(runId) {
      await ready();
      return get(runId);
    },

    async findByOperationId(operationId) {
      await ready();
      const entry = await getItem(`op#${operationId}`);
      const runId = stringOf(entry?.runId);
      if (runId === undefined) return undefined;
      const record = await get(runId);
      return record?.operationId === operationId ? record : undefined;
    },

    async update(record) {
      assertUpdatable(record);
      await ready();
      const next: RunRecord = { ...record, version: record.version + 1 };
      const token = randomUUID();
      const item = runItem(next, token);
      const expected = { ':v': { N: String(record.version) } };
      // Common case: the operationId is unchanged, so no operation entry needs writing.
      const unchanged =
        record.operationId === undefined
          ? await putIf(
              item,
              '#v = :v AND attribute_not_exists(#op)',
              { '#v': 'version', '#op': 'operationId' },
              expected,
            )
          : await putIf(
              item,
              '#v = :v AND #op = :op',
              { '#v': 'version', '#op': 'operationId' },
              { ...expected, ':op': { S: record.operationId } },
            );
      if (unchanged) return detached(next);

      const current = await getItem(`run#${record.runId}`);
      if (current === undefined) return undefined;
      if (stringOf(current.wt) === token) return decode(current);
      if (numberOf(current.version) !== record.version) return undefined;
      // Same version, so the operationId changes: make it findable before the run carries it.
      if (record.operationId !== undefined) await putOperation(record.operationId, record.runId);
      if (await putIf(item, '#v = :v', { '#v': 'version' }, expected)) return detached(next);
      const after = await getItem(`run#${record.runId}`);
      return after !== undefined && stringOf(after.wt) === token ? decode(after) : undefined;
    },

    async listDue(dueBy, limit) {
      const by = dueByMillis(dueBy);
      if (limit <= 0) return [];
      await ready();
      return queryOpen(by, limit);
    },

    async listOpen() {
      await ready();
      return queryOpen(undefined, Number.POSITIVE_INFINITY);
    },

    async listRuns(query) {
      historyDays(query); // validates the query before any request
      await ready();
      await historyReady();
      return listHistory(query);
    },
    async acquireSlot(scope, runId, since): Promise<SlotClaim> {
      assertSlotArguments(scope, runId);
      await ready();
      const mine: ConcurrencySlot = { scope, holder: runId, since };
      for (let attempt = 0; ; attempt++) {
        if (await putIf(slotItem(mine), 'attribute_not_exists(#h)', { '#h': 'holder' })) {
          return { acquired: true, slot: mine };
        }
        const held = await getSlot(scope);
        // Held by this run already: a redelivery, or our own write that landed before a retry.
        if (held !== undefined) return { acquired: held.holder === runId, slot: held };
        // Freed between our write and our read: try again (a few times; then it is contention).
        if (attempt >= 3)
          throw ledgerError(`Document API: slot ${scope} keeps changing hands`, undefined, { table });
      }
    },

    async getSlot(scope) {
      await ready();
      return getSlot(scope);
    },

    async transferSlot(scope, from, to, since) {
      assertSlotArguments(scope, from, to);
      await ready();
      const next: ConcurrencySlot = { scope, holder: to, since };
      if (await putIf(slotItem(next), '#h = :from', { '#h': 'holder' }, { ':from': { S: from } }))
        return next;
      // Our own write may have landed before a retry (5xx, dropped connection).
      const held = await getSlot(scope);
      return held?.holder === to && held.since === since ? held : undefined;
    },

    async releaseSlot(scope, runId) {
      assertSlotArguments(scope, runId);
      await ready();
      try {
        await call('DeleteItem', {
          TableName: table,
          Key: { pk: { S: `slot#${scope}` } },
          ConditionExpression: '#h = :runId',
          ExpressionAttributeNames: { '#h': 'holder' },
          ExpressionAttributeValues: { ':runId': { S: runId } },
        });
        return true;
      } catch (error) {
        if (isAwsError(error, 'ConditionalCheckFailedException')) return false;
        throw error;
      }
    },
  };

  async function getSlot(scope: string): Promise<ConcurrencySlot | undefined> {
    const item = await getItem(`slot#${scope}`);
    const holder = stringOf(item?.holder);
    if (item === undefined || holder === undefined) return undefined;
    return { scope, holder, since: stringOf(item.since) ?? new Date(0).toISOString() };
  }
}

function slotItem(slot: ConcurrencySlot): Item {
  return {
    pk: { S: `slot#${slot.scope}` },
    holder: { S: slot.holder },
    since: { S: slot.since },
  };
}

interface TableDescription {
  readonly TableStatus?: string;
  readonly GlobalSecondaryIndexes?: readonly { readonly IndexName?: string; readonly IndexStatus?: string }[];
}

function isActive(description: TableDescription | undefined): boolean {
  return (
    description?.TableStatus === 'ACTIVE' &&
    (description.GlobalSecondaryIndexes ?? []).every(
      // The history index may be added to a live table later: only listRuns waits for it.
      (i) => i.IndexStatus === undefined || i.IndexStatus === 'ACTIVE' || i.IndexName === HISTORY_INDEX,
    )
  );
}

/** Status of a GSI (`ACTIVE` when the service omits it), `undefined` when the table lacks it. */
function indexStatus(description: TableDescription | undefined, name: string): string | undefined {
  const index = (description?.GlobalSecondaryIndexes ?? []).find((i) => i.IndexName === name);
  return index === undefined ? undefined : (index.IndexStatus ?? 'ACTIVE');
}

const HISTORY_KEYS = [
  { AttributeName: 'day', KeyType: 'HASH' },
  { AttributeName: 'created', KeyType: 'RANGE' },
] as const;
const HISTORY_ATTRIBUTES = [
  { AttributeName: 'day', AttributeType: 'S' },
  { AttributeName: 'created', AttributeType: 'S' },
] as const;

/** UpdateTable request adding the history index to a table made without it. */
function addHistoryIndex(table: string): object {
  return {
    TableName: table,
    AttributeDefinitions: HISTORY_ATTRIBUTES,
    GlobalSecondaryIndexUpdates: [
      {
        Create: { IndexName: HISTORY_INDEX, KeySchema: HISTORY_KEYS, Projection: { ProjectionType: 'ALL' } },
      },
    ],
  };
}

function tableDefinition(table: string): object {
  return {
    TableName: table,
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'openShard', AttributeType: 'S' },
      { AttributeName: 'nextCheckAt', AttributeType: 'S' },
      ...HISTORY_ATTRIBUTES,
    ],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
    GlobalSecondaryIndexes: [
      {
        IndexName: OPEN_INDEX,
        KeySchema: [
          { AttributeName: 'openShard', KeyType: 'HASH' },
          { AttributeName: 'nextCheckAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
      { IndexName: HISTORY_INDEX, KeySchema: HISTORY_KEYS, Projection: { ProjectionType: 'ALL' } },
    ],
  };
}

function runItem(record: RunRecord, token: string): Item {
  const item: Item = {
    pk: { S: `run#${record.runId}` },
    doc: { S: JSON.stringify(record) },
    version: { N: String(record.version) },
    wt: { S: token },
  };
  if (record.operationId !== undefined) item.operationId = { S: record.operationId };
  const due = dueMillis(record);
  if (due !== undefined) {
    item.openShard = { S: OPEN_SHARD };
    item.nextCheckAt = { S: isoKey(due) };
  }
  return item;
}

/** The history entry of a run (the `hist#` item): index keys and the facts that never change. */
function historyItem(record: RunRecord, createdAt: number): Item {
  const item: Item = {
    pk: { S: `hist#${record.runId}` },
    day: { S: dayName(createdAt) },
    created: { S: historyKey(createdAt, record.runId) },
    runId: { S: record.runId },
    projectId: { S: record.projectId },
    trigger: { S: record.trigger },
  };
  if (record.notebookId !== undefined) item.notebookId = { S: record.notebookId };
  if (record.action !== undefined) item.action = { S: record.action };
  if (record.job !== undefined) item.job = { S: record.job.name };
  return item;
}

/** A `hist#` item read back from the index; `undefined` when it lacks what an entry needs. */
function historyEntry(item: Item): RunHistoryEntry | undefined {
  const runId = stringOf(item.runId);
  const created = stringOf(item.created);
  const projectId = stringOf(item.projectId);
  const trigger = stringOf(item.trigger) as RunHistoryEntry['trigger'] | undefined;
  const createdAt = created === undefined ? Number.NaN : Date.parse(created.slice(0, 24));
  if (
    runId === undefined ||
    projectId === undefined ||
    trigger === undefined ||
    !Number.isFinite(createdAt)
  ) {
    return undefined;
  }
  const notebookId = stringOf(item.notebookId);
  const job = stringOf(item.job);
  return {
    runId,
    createdAt,
    projectId,
    ...(notebookId === undefined ? {} : { notebookId }),
    trigger,
    action: (stringOf(item.action) ?? 'execute') as RunHistoryEntry['action'],
    ...(job === undefined ? {} : { job }),
  };
}

/** The position of an entry from its sort key (`<ISO>#<runId>`). */
function positionOf(created: string | undefined): RunPosition | undefined {
  const createdAt = created === undefined ? Number.NaN : Date.parse(created.slice(0, 24));
  return created === undefined || created[24] !== '#' || !Number.isFinite(createdAt)
    ? undefined
    : { createdAt, key: created.slice(25) };
}

/** Sort key of a history entry: fixed-width ISO then `#` then the runId (UTF-8 order = time, then runId). */
function historyKey(ms: number, runId: string): string {
  return `${isoKey(ms)}#${runId}`;
}

/** Index key for an instant: fixed-width ISO (so string order is time order). */
function isoKey(ms: number): string {
  return new Date(Math.min(Math.max(ms, MIN_ISO_MS), MAX_ISO_MS)).toISOString();
}

function stringOf(value: AttributeValue | undefined): string | undefined {
  return value !== undefined && 'S' in value ? value.S : undefined;
}

function numberOf(value: AttributeValue | undefined): number | undefined {
  return value !== undefined && 'N' in value ? Number(value.N) : undefined;
}

function parseEndpoint(endpoint: string): { origin: string; host: string; path: string } {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch (error) {
    throw ledgerError(`Document API endpoint "${endpoint}" is not a URL`, error);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw ledgerError(`Document API endpoint "${endpoint}" must use http or https`);
  }
  return { origin: url.origin, host: url.host, path: `${url.pathname}${url.search}` };
}

/** `__type` is `com.amazonaws.dynamodb.v20120810#Name` (or just `Name`); some services say `Message`. */
function parseAwsError(text: string, statusCode: number): { type: string; message: string } {
  try {
    const body = JSON.parse(text) as { __type?: unknown; message?: unknown; Message?: unknown };
    const type =
      typeof body.__type === 'string' ? (body.__type.split('#').pop() ?? body.__type) : `HTTP ${statusCode}`;
    const message =
      typeof body.message === 'string' ? body.message : typeof body.Message === 'string' ? body.Message : '';
    return { type, message };
  } catch {
    return { type: `HTTP ${statusCode}`, message: text.slice(0, 200) };
  }
}
