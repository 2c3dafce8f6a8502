import type { RunRecord } from '../core/run-record.ts';
import { isUnreadableRecord } from './ledger-error.ts';
import {
  assertCreatable,
  assertUpdatable,
  dueByMillis,
  dueMillis,
  parseStoredRecord,
} from './record-checks.ts';
import { createdMillis, dayStart, walkHistory } from './run-history.ts';
import type { ConcurrencySlot, CreateResult, LedgerObserver, RunLedger } from './run-ledger.ts';
import { slotRules } from './slot-rules.ts';

/** The in-memory ledger, plus what only tests need. */
export interface InMemoryLedger extends RunLedger {
  /** Stores `text` as the run's record as it is (a damaged record, for tests of setting it aside). */
  putRaw(runId: string, text: string): void;
}

/**
 * A RunLedger in process memory, for core unit tests. It keeps the same rules as the real stores
 * (create-if-absent, compare-and-set, detached copies, unreadable records set aside, slots) but scans
 * its map for `listDue`: it holds only what a test put in it.
 *
 * Records are kept as JSON text so that a caller mutating what it got back cannot change the store.
 */
export function createInMemoryLedger(observer: LedgerObserver = {}): InMemoryLedger {
  const runs = new Map<string, string>();
  const setAside = new Set<string>();
  const slots = new Map<string, ConcurrencySlot>();

  const read = (runId: string): RunRecord | undefined => {
    const text = runs.get(runId);
    return text === undefined ? undefined : parseStoredRecord(text, `memory:${runId}`, runId);
  };

  /** The record, or undefined when absent or unreadable (a history listing skips those). */
  const readable = (runId: string): RunRecord | undefined => {
    try {
      return read(runId);
    } catch (error) {
      if (isUnreadableRecord(error)) return undefined;
      throw error;
    }
  };

  const open = (): { record: RunRecord; due: number }[] => {
    const found: { record: RunRecord; due: number }[] = [];
    for (const runId of runs.keys()) {
      if (setAside.has(runId)) continue;
      let record: RunRecord | undefined;
      try {
        record = read(runId);
      } catch (error) {
        if (!isUnreadableRecord(error)) throw error;
        setAside.add(runId);
        observer.onUnreadable?.({ runId, location: error.location, reason: error.reason });
        continue;
      }
      const due = record === undefined ? undefined : dueMillis(record);
      if (record !== undefined && due !== undefined) found.push({ record, due });
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
      for (const runId of runs.keys()) {
        if (setAside.has(runId)) continue;
        try {
          const record = read(runId);
          if (record?.operationId === operationId) return record;
        } catch (error) {
          if (!isUnreadableRecord(error)) throw error;
        }
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
          for (const runId of runs.keys()) {
            const record = readable(runId);
            if (record === undefined) continue;
            const createdAt = Date.parse(record.createdAt);
            if (dayStart(createdAt) === dayMs) entries.push({ createdAt, key: record.runId });
          }
          return entries;
        },
        async read(candidates) {
          return candidates.map((c) => {
            const record = readable(c.key);
            return record === undefined ? { missing: true as const } : { record };
          });
        },
      });
    },

    async getSlot(scope) {
      const held = slots.get(scope);
      return held === undefined ? undefined : { ...held };
    },

    // One read and one write with no await between them: nothing else changes the map meanwhile.
    ...slotRules(async (scope, change) => {
      const held = slots.get(scope);
      return change({
        held: held === undefined ? undefined : { ...held },
        put: (slot) => {
          slots.set(scope, { ...slot });
        },
        free: () => {
          slots.delete(scope);
        },
      });
    }),

    putRaw(runId, text) {
      runs.set(runId, text);
      setAside.delete(runId);
    },
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
