// One function instance for the benchmarks: plain node (no TypeScript loader, so its memory is the
// bundle's own), `require`s a BUILT bundle once, then runs `handler(event, context)` for each IPC
// message, answering with the result, the time (wall and CPU) the call took and the peak RSS so far.
// Env: FUNCTION_BUNDLE (dist/<fn>/index.js), FUNCTION_TIMEOUT_MS, plus the function's own settings.
// BENCH_SHIFTED_CLOCK=1: the wall clock (Date) runs `clockOffsetMs` ahead, as the latest message said,
// so the cost scenarios can let an hour pass between sweeps without waiting (timers are not affected).
'use strict';

const { resolve } = require('node:path');

let clockOffsetMs = 0;
if (process.env.BENCH_SHIFTED_CLOCK === '1') {
  const RealDate = Date;
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + clockOffsetMs);
      else super(...args);
    }
    static now() {
      return RealDate.now() + clockOffsetMs;
    }
  }
  globalThis.Date = ShiftedDate;
}

const bundle = process.env.FUNCTION_BUNDLE;
if (bundle === undefined) throw new Error('FUNCTION_BUNDLE is required');
const timeoutMs = Number(process.env.FUNCTION_TIMEOUT_MS ?? 120_000);
const { handler } = require(resolve(bundle));
if (typeof handler !== 'function') throw new Error(`${bundle} does not export handler`);

process.on('message', async (message) => {
  if (typeof message.clockOffsetMs === 'number') clockOffsetMs = message.clockOffsetMs;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const startedAt = Date.now();
  const context = {
    requestId: `bench-${message.id}`,
    functionName: 'bench',
    token: { access_token: 't1.bench-token', expires_in: 43200, token_type: 'Bearer' },
    getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - startedAt)),
  };
  let answer;
  try {
    const result = await handler(message.event, context);
    answer = { ok: true, result: result ?? null };
  } catch (error) {
    answer = { ok: false, error: String(error?.message ?? error) };
  }
  process.send({
    id: message.id,
    ...answer,
    wallMs: performance.now() - started,
    // CPU time of the whole process (every thread) over the call, ms.
    cpuMs: (() => {
      const used = process.cpuUsage(cpuBefore);
      return (used.user + used.system) / 1000;
    })(),
    // Linux reports maxRSS in kilobytes.
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    memory: process.memoryUsage(),
  });
});
process.send({ ready: true, maxRssBytes: process.resourceUsage().maxRSS * 1024 });
// The parent closing the channel ends the instance (a normal exit, so --cpu-prof can write its file).
process.on('disconnect', () => process.exit(0));
