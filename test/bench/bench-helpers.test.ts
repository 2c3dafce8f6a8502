import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simulateEconomy } from '../../bench/api-economy.ts';
import { bounded, info, markdownTable, mInstr, textTable } from '../../bench/results-table.ts';

describe('bench results table', () => {
  it('passes a value within its budget, fails one over it, and never judges a value it could not measure', () => {
    assert.equal(bounded('a', 169e6, 170e6, mInstr).verdict, 'pass');
    assert.equal(bounded('a', 171e6, 170e6, mInstr).verdict, 'FAIL');
    const missing = bounded('a', undefined, 170e6, mInstr, 'not measured (no valgrind)');
    assert.equal(missing.verdict, 'not measured');
    assert.equal(missing.value, 'not measured (no valgrind)');
  });

  it('renders the same rows as text and as a markdown table', () => {
    const rows = [bounded('size', 100, 300, (n) => `${n} KB`), info('note | pipe', 'x')];
    assert.match(textTable(rows), /size\s+100 KB\s+≤ 300 KB\s+pass/);
    const md = markdownTable(rows).split('\n');
    assert.equal(md.length, 4);
    assert.equal(md[2], '| size | 100 KB | ≤ 300 KB | pass |');
    assert.equal(md[3], '| note \\| pipe | x |  |  |');
  });
});

describe('bench API economy simulation (the real core on a simulated clock)', () => {
  it('checks a run at most once per per-minute tick when checked at the first sweep after its start', async () => {
    const result = await simulateEconomy({
      runSeconds: 600,
      phases: 12,
      settings: { checkFirstDelaySeconds: 0 },
    });
    // At most every tick during the 10 minutes checks the run once, plus the tick that sees it done.
    assert.ok(result.maxGets <= 11 && result.minGets >= 10, `${result.minGets}..${result.maxGets}`);
    assert.ok(result.maxDelaySeconds <= 60, String(result.maxDelaySeconds));
  });

  it('skips the first tick under a first-check delay of 75 s and still learns of the end within a tick', async () => {
    const later = await simulateEconomy({
      runSeconds: 600,
      phases: 12,
      settings: { checkFirstDelaySeconds: 75 },
    });
    assert.equal(later.maxGets, 10);
    assert.ok(later.maxDelaySeconds <= 60, String(later.maxDelaySeconds));
  });
});
