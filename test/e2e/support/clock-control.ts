/**
 * A wall clock the test moves forward for the function processes (preloaded support/clock-shift.mjs
 * reads the offset file on every `Date.now()`), so "20 s later" or "past the report claim" needs no
 * real waiting. Timers are not affected.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const CLOCK_SHIFT = join(import.meta.dirname, 'clock-shift.mjs');

export interface ClockControl {
  /** Environment of the function processes that follow this clock. */
  readonly env: Readonly<Record<string, string>>;
  /** Moves the functions' clock forward (written atomically: a reader never sees half a number). */
  advance(ms: number): void;
  /** The total offset so far. */
  readonly offsetMs: number;
}

export function clockControl(dir: string): ClockControl {
  const file = join(dir, 'clock-offset');
  let offset = 0;
  const write = () => {
    writeFileSync(`${file}.tmp`, String(offset));
    renameSync(`${file}.tmp`, file);
  };
  write();
  return {
    env: { NODE_OPTIONS: `--import ${pathToFileURL(CLOCK_SHIFT).href}`, E2E_CLOCK_OFFSET_FILE: file },
    advance(ms) {
      offset += ms;
      write();
    },
    get offsetMs() {
      return offset;
    },
  };
}
