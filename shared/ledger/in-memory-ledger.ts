import type { RunRecord } from '../core/run-record.ts';
import { assertCreatable, assertUpdatable, dueByMillis, dueMillis } from './record-checks.ts';
import { createdMillis, dayStart, walkHistory } from './run-history.ts';
import type { CreateResult, RunLedger } from './run-ledger.ts';

/**
 * A RunLedger in process memory, for core unit tests. It keeps the same rules as the real stores
 * (create-if-absent, compare-and-set, detached copies) but scans its map for `listDue`: it holds only
 * what a test put in it.
 *
 * Records are kept as JSON text so that a caller mutating what it got back cannot change the store.
 */
export function createInMemoryLedger(): RunLedger {
  const runs = new Map<string, string>();

  const read = (runId: string): RunRecord | undefined => {
    const text = runs.get(runId);
    return text === undefined ? undefined : (JSON.parse(text) as RunRecord);
  };

  const open = (): { record: RunRecord; due: number }[] => {
    const found: { record: RunRecord; due: number }[] = [];
    for (const text of runs.values()) {
      const record = JSON.parse(text) as RunRecord;
      const due = dueMillis(record);
      if (due !== undefined) found.push({ record, due });
    }
    return found.sort((a, b) => a.due - b.due || compare(a.record.runId, b.record.runId));
  };

  return {
    async create(record): Promise<CreateResult> {
      assertCreatable(record);
      createdMillis(record);
      const existing = read(record.runId);
      if (existing !== undefined) return { created: false, record: existing };
      const text = JSON.stringify(record);
      runs.set(record.runId, text);
      return { created: true, record: JSON.parse(text) as RunRecord };
    },

    async get(runId) {
      return read(runId);
    },

    async findByOperationId(operationId) {
      for (const text of runs.values()) {
        const record = JSON.parse(text) as RunRecord;
        if (record.operationId === operationId) return record;
      }
      return undefined;
    },

    async update(record) {
      assertUpdatable(record);
      const current = read(record.runId);
      if (current === undefined || current.version !== record.version) return undefined;
      const text = JSON.stringify({ ...record, version: record.version + 1 });
      runs.set(record.runId, text);
      return JSON.parse(text) as RunRecord;
    },

    async listDue(dueBy, limit) {
      const by = dueByMillis(dueBy);
      return open()
        .filter((entry) => entry.due <= by)
        .slice(0, Math.max(0, limit))
        .map((entry) => entry.record);
    },

    async listOpen() {
      return open().map((entry) => entry.record);
    },

    async listRuns(query) {
      // Same walk as the file store, over day lists built from the map (it holds only a test's runs).
      return walkHistory(query, {
        async day(dayMs) {
          const entries: { createdAt: number; key: string }[] = [];
          for (const text of runs.values()) {
            const record = JSON.parse(text) as RunRecord;
            const createdAt = Date.parse(record.createdAt);
            if (dayStart(createdAt) === dayMs) entries.push({ createdAt, key: record.runId });
          }
          return entries;
        },
        async read(candidates) {
          return candidates.map((c) => {
            const record = read(c.key);
            return record === undefined ? { missing: true as const } : { record };
          });
        },
      });
    },
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
