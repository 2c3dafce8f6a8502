// Preloaded into the function processes of a test (NODE_OPTIONS=--import): moves their wall clock
// forward by the number of milliseconds written in E2E_CLOCK_OFFSET_FILE, so a test can let "30 s"
// pass for the functions (a notification retry, say) without waiting. Timers are not affected.
// Plain JavaScript: it loads before tsx is registered.
import { readFileSync } from 'node:fs';

const file = process.env.E2E_CLOCK_OFFSET_FILE;
if (file) {
  const RealDate = Date;
  const offset = () => {
    try {
      return Number(readFileSync(file, 'utf8')) || 0;
    } catch {
      return 0;
    }
  };
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + offset());
      else super(...args);
    }
    static now() {
      return RealDate.now() + offset();
    }
  }
  globalThis.Date = ShiftedDate;
}
