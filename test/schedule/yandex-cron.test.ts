import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../shared/errors.ts';
import { parseYandexCron, type YandexCron } from '../../shared/schedule/yandex-cron.ts';

const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** The next `count` scheduled minutes strictly after `fromIso`, as ISO strings (`…T03:00Z`). */
function runs(expr: string, fromIso: string, count: number): string[] {
  const cron = parseYandexCron(expr);
  const out: string[] = [];
  let cursor: Date | undefined = new Date(fromIso);
  while (out.length < count) {
    cursor = cron.nextAfter(cursor);
    if (cursor === undefined) break;
    out.push(minuteIso(cursor));
  }
  return out;
}

function minuteIso(d: Date): string {
  return `${d.toISOString().slice(0, 16)}Z`;
}

function iso(d: Date | undefined): string | undefined {
  return d === undefined ? undefined : minuteIso(d);
}

function days(expr: string, fromIso: string, count: number): string[] {
  return runs(expr, fromIso, count).map((r) => r.slice(0, 10));
}

function weekdays(expr: string, fromIso: string, count: number): string[] {
  return runs(expr, fromIso, count).map((r) => WEEKDAYS[new Date(r).getUTCDay()] ?? '?');
}

/** Asserts that parsing fails with a ConfigError naming the setting, the expression and `problem`. */
function rejects(expr: string, problem: RegExp | string): void {
  assert.throws(
    () => parseYandexCron(expr, 'jobs.test.schedule'),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, 'a ConfigError');
      assert.equal(error.code, 'CONFIG_ERROR');
      assert.equal(error.setting, 'jobs.test.schedule');
      const prefix = `jobs.test.schedule: ${JSON.stringify(expr.trim())}: `;
      assert.ok(error.message.startsWith(prefix), `message starts with ${prefix}: ${error.message}`);
      const rest = error.message.slice(prefix.length);
      if (typeof problem === 'string') assert.equal(rest, problem);
      else assert.match(rest, problem);
      return true;
    },
  );
}

describe('the "?" rule of day-of-month and day-of-week', () => {
  it('rejects an expression where neither day field is "?"', () => {
    rejects('0 3 * * * *', 'one of day-of-month and day-of-week must be "?"');
    rejects('0 3 1 * MON *', 'one of day-of-month and day-of-week must be "?"');
  });

  it('rejects an expression where both day fields are "?"', () => {
    rejects('0 3 ? * ? *', 'only one of day-of-month and day-of-week may be "?"');
  });

  it('accepts "?" in day-of-month, and the day-of-week alone decides', () => {
    assert.deepEqual(weekdays('0 3 ? * MON *', '2024-01-01T05:00Z', 3), ['MON', 'MON', 'MON']);
    assert.deepEqual(runs('0 3 ? * * *', '2024-01-31T05:00Z', 2), ['2024-02-01T03:00Z', '2024-02-02T03:00Z']);
  });

  it('accepts "?" in day-of-week, and the day-of-month alone decides', () => {
    assert.deepEqual(days('0 3 15 * ? *', '2024-01-01T00:00Z', 3), [
      '2024-01-15',
      '2024-02-15',
      '2024-03-15',
    ]);
    assert.deepEqual(runs('15 10 * * ? *', '2024-02-29T11:00Z', 1), ['2024-03-01T10:15Z']);
  });

  it('rejects "?" in any other field', () => {
    rejects('? 3 ? * * *', 'minutes: "?" is only allowed in day-of-month or day-of-week');
    rejects('0 3 1 ? ? *', 'month: "?" is only allowed in day-of-month or day-of-week');
    rejects('0 3 1 * ? ?', 'year: "?" is only allowed in day-of-month or day-of-week');
  });
});

describe('the shape of an expression', () => {
  it('accepts the documented examples', () => {
    assert.deepEqual(runs('* * * * ? *', '2024-01-01T00:00:30Z', 2), [
      '2024-01-01T00:01Z',
      '2024-01-01T00:02Z',
    ]);
    assert.deepEqual(runs('0 * ? * * *', '2024-01-01T00:00Z', 2), ['2024-01-01T01:00Z', '2024-01-01T02:00Z']);
    assert.deepEqual(runs('15 10 ? * * *', '2024-01-01T00:00Z', 2), [
      '2024-01-01T10:15Z',
      '2024-01-02T10:15Z',
    ]);
  });

  it('accepts five fields, the year being optional, with the same meaning as "*" for the year', () => {
    assert.deepEqual(runs('0 3 ? * *', '2024-01-01T00:00Z', 3), runs('0 3 ? * * *', '2024-01-01T00:00Z', 3));
  });

  it('rejects fewer than five fields', () => {
    rejects('0 3 ? *', 'has 4 fields; expected 5 or 6: Minutes Hours Day-of-month Month Day-of-week [Year]');
    rejects('@daily', /^has 1 field; expected 5 or 6/);
  });

  it('rejects more than six fields and says there is no seconds field', () => {
    rejects(
      '0 0 3 ? * * *',
      'has 7 fields; expected 5 or 6: Minutes Hours Day-of-month Month Day-of-week [Year] (there is no seconds field)',
    );
    rejects('0 0 3 ? * * * *', /^has 8 fields; expected 5 or 6/);
  });

  it('rejects an empty expression', () => {
    rejects('   ', 'is empty');
  });

  it('accepts 100 characters and rejects 101', () => {
    const exact = `${'0,'.repeat(44)}00 3 ? * * *`;
    assert.equal(exact.length, 100);
    assert.equal(parseYandexCron(exact).expression, exact);
    const long = `${'0,'.repeat(45)}0 3 ? * * *`;
    assert.equal(long.length, 101);
    assert.throws(
      () => parseYandexCron(long, 'jobs.test.schedule'),
      /^ConfigError: jobs\.test\.schedule: "0,0,0,[0,]*…": is 101 characters long; at most 100 are allowed$/,
    );
  });

  it('accepts any whitespace between fields and ignores it around the expression', () => {
    assert.equal(parseYandexCron('  0\t3  ?  *  *  * ').expression, '0\t3  ?  *  *  *');
    assert.deepEqual(runs('0\t3  ?  *  *', '2024-01-01T00:00Z', 1), ['2024-01-01T03:00Z']);
  });
});

describe('lists, ranges and steps', () => {
  it('matches each value of a list', () => {
    assert.deepEqual(runs('0,15,40 9 ? * * *', '2024-01-01T00:00Z', 4), [
      '2024-01-01T09:00Z',
      '2024-01-01T09:15Z',
      '2024-01-01T09:40Z',
      '2024-01-02T09:00Z',
    ]);
  });

  it('matches every value of a range, both ends included', () => {
    assert.deepEqual(runs('0 10-12 ? * * *', '2024-01-01T00:00Z', 4), [
      '2024-01-01T10:00Z',
      '2024-01-01T11:00Z',
      '2024-01-01T12:00Z',
      '2024-01-02T10:00Z',
    ]);
  });

  it('reads "0/15" as 0, 15, 30 and 45 (start/step, Quartz)', () => {
    assert.deepEqual(
      runs('0/15 9 ? * * *', '2024-01-01T00:00Z', 5).map((r) => r.slice(11, 16)),
      ['09:00', '09:15', '09:30', '09:45', '09:00'],
    );
    assert.deepEqual(
      runs('5/20 9 ? * * *', '2024-01-01T00:00Z', 3).map((r) => r.slice(11, 16)),
      ['09:05', '09:25', '09:45'],
    );
  });

  it('reads "*/5" as every fifth minute from 0', () => {
    assert.deepEqual(runs('*/5 * ? * * *', '2024-01-01T00:52Z', 3), [
      '2024-01-01T00:55Z',
      '2024-01-01T01:00Z',
      '2024-01-01T01:05Z',
    ]);
  });

  it('reads "10-50/10" as 10, 20, 30, 40 and 50', () => {
    assert.deepEqual(
      runs('10-50/10 0 ? * * *', '2024-01-01T00:00Z', 6).map((r) => r.slice(11, 16)),
      ['00:10', '00:20', '00:30', '00:40', '00:50', '00:10'],
    );
  });

  it('steps day-of-month from 1 and day-of-week from SUN', () => {
    assert.deepEqual(days('0 0 1/10 * ? *', '2024-01-01T00:00Z', 4), [
      '2024-01-11',
      '2024-01-21',
      '2024-01-31',
      '2024-02-01',
    ]);
    assert.deepEqual(weekdays('0 0 ? * */2 *', '2024-01-01T00:00Z', 4), ['TUE', 'THU', 'SAT', 'SUN']);
    assert.deepEqual(weekdays('0 0 ? * 2/2 *', '2024-01-01T00:00Z', 3), ['WED', 'FRI', 'MON']);
  });

  it('mixes values, ranges and steps in one list', () => {
    assert.deepEqual(
      runs('0 1,5-6,20/2 ? * * *', '2024-01-01T00:00Z', 7).map((r) => r.slice(11, 13)),
      ['01', '05', '06', '20', '22', '01', '05'],
    );
  });
});

describe('month and weekday names', () => {
  it('accepts month names, in any case, in lists and ranges', () => {
    assert.deepEqual(days('0 0 1 jan,Mar ? *', '2024-01-01T00:00Z', 3), [
      '2024-03-01',
      '2025-01-01',
      '2025-03-01',
    ]);
    assert.deepEqual(days('0 0 1 NOV-DEC ? *', '2024-01-01T00:00Z', 3), [
      '2024-11-01',
      '2024-12-01',
      '2025-11-01',
    ]);
  });

  it('accepts weekday names, in any case, in lists and ranges', () => {
    assert.deepEqual(weekdays('0 0 ? * MON-FRI *', '2024-01-01T00:00Z', 6), [
      'TUE',
      'WED',
      'THU',
      'FRI',
      'MON',
      'TUE',
    ]);
    assert.deepEqual(weekdays('0 0 ? * sun,Sat *', '2024-01-01T00:00Z', 3), ['SAT', 'SUN', 'SAT']);
  });

  it('rejects an unknown name, naming the field', () => {
    rejects('0 0 1 FOO ? *', 'month: "FOO" is not a month (1-12 or JAN-DEC)');
    rejects('0 0 ? * Monday *', 'day-of-week: "Monday" is not a day of the week (1-7 or SUN-SAT)');
    rejects('0 0 ? * JAN *', 'day-of-week: "JAN" is not a day of the week (1-7 or SUN-SAT)');
    rejects('0 MON ? * * *', 'hours: "MON" is not a number 0-23');
  });
});

describe('day-of-week numbering (1 = SUN … 7 = SAT)', () => {
  it('reads 2-6 as Monday to Friday', () => {
    assert.deepEqual(weekdays('0 0 ? * 2-6 *', '2023-12-31T00:00Z', 7), [
      'MON',
      'TUE',
      'WED',
      'THU',
      'FRI',
      'MON',
      'TUE',
    ]);
  });

  it('reads 1 as Sunday and 7 as Saturday', () => {
    assert.deepEqual(runs('0 0 ? * 1 *', '2024-01-01T00:00Z', 2), ['2024-01-07T00:00Z', '2024-01-14T00:00Z']);
    assert.deepEqual(runs('0 0 ? * 7 *', '2024-01-01T00:00Z', 2), ['2024-01-06T00:00Z', '2024-01-13T00:00Z']);
    assert.deepEqual(
      runs('0 0 ? * 1 *', '2024-01-01T00:00Z', 2),
      runs('0 0 ? * SUN *', '2024-01-01T00:00Z', 2),
    );
    assert.deepEqual(
      runs('0 0 ? * 7 *', '2024-01-01T00:00Z', 2),
      runs('0 0 ? * SAT *', '2024-01-01T00:00Z', 2),
    );
  });

  it('rejects 0 and 8, saying how the days are numbered', () => {
    rejects('0 0 ? * 0 *', 'day-of-week: 0 is out of range 1-7 (1 = SUN, 2 = MON … 7 = SAT)');
    rejects('0 0 ? * 1-8 *', 'day-of-week: 8 is out of range 1-7 (1 = SUN, 2 = MON … 7 = SAT)');
  });
});

describe('L, W and #', () => {
  it('reads L in day-of-month as the last day of each month, leap years included', () => {
    assert.deepEqual(days('0 0 L * ? *', '2023-12-31T12:00Z', 5), [
      '2024-01-31',
      '2024-02-29',
      '2024-03-31',
      '2024-04-30',
      '2024-05-31',
    ]);
    assert.deepEqual(days('0 0 L 2 ? *', '2024-12-31T00:00Z', 4), [
      '2025-02-28',
      '2026-02-28',
      '2027-02-28',
      '2028-02-29',
    ]);
  });

  it('reads L alone in day-of-week as Saturday, as Yandex documents', () => {
    assert.deepEqual(
      runs('0 0 ? * L *', '2024-01-01T00:00Z', 2),
      runs('0 0 ? * 7 *', '2024-01-01T00:00Z', 2),
    );
    assert.deepEqual(weekdays('0 0 ? * l *', '2024-01-01T00:00Z', 3), ['SAT', 'SAT', 'SAT']);
  });

  it('reads 6L (and FRIL) as the last Friday of the month', () => {
    assert.deepEqual(days('0 0 ? * 6L *', '2024-01-01T00:00Z', 4), [
      '2024-01-26',
      '2024-02-23',
      '2024-03-29',
      '2024-04-26',
    ]);
    assert.deepEqual(
      days('0 0 ? * FRIL *', '2024-01-01T00:00Z', 4),
      days('0 0 ? * 6L *', '2024-01-01T00:00Z', 4),
    );
  });

  it('reads 6#3 as the third Friday of the month', () => {
    assert.deepEqual(days('0 0 ? * 6#3 *', '2024-01-01T00:00Z', 4), [
      '2024-01-19',
      '2024-02-16',
      '2024-03-15',
      '2024-04-19',
    ]);
    assert.deepEqual(days('0 0 ? * FRI#3 *', '2024-01-01T00:00Z', 2), ['2024-01-19', '2024-02-16']);
    assert.deepEqual(days('0 0 ? * 2#1 *', '2023-12-31T00:00Z', 2), ['2024-01-01', '2024-02-05']);
  });

  it('skips months without a fifth occurrence for #5', () => {
    // Fridays in 2024: five in March, May, August and November.
    assert.deepEqual(days('0 0 ? * 6#5 2024', '2024-01-01T00:00Z', 5), [
      '2024-03-29',
      '2024-05-31',
      '2024-08-30',
      '2024-11-29',
    ]);
  });

  it('reads 15W as the weekday nearest the 15th', () => {
    assert.deepEqual(runs('0 0 15W 6 ? 2024', '2024-01-01T00:00Z', 1), ['2024-06-14T00:00Z']); // Sat 15 -> Fri 14
    assert.deepEqual(runs('0 0 15W 9 ? 2024', '2024-01-01T00:00Z', 1), ['2024-09-16T00:00Z']); // Sun 15 -> Mon 16
    assert.deepEqual(runs('0 0 15W 8 ? 2024', '2024-01-01T00:00Z', 1), ['2024-08-15T00:00Z']); // Thu 15
  });

  it('keeps W inside the month: 1W on a Saturday the 1st is Monday the 3rd', () => {
    assert.deepEqual(runs('0 0 1w 6 ? 2024', '2024-01-01T00:00Z', 1), ['2024-06-03T00:00Z']);
  });

  it('reads LW as the last weekday of the month', () => {
    assert.deepEqual(days('0 0 LW * ? *', '2024-02-01T00:00Z', 4), [
      '2024-02-29',
      '2024-03-29',
      '2024-04-30',
      '2024-05-31',
    ]);
    assert.deepEqual(days('0 0 LW 8 ? 2024', '2024-01-01T00:00Z', 1), ['2024-08-30']); // Sat 31 -> Fri 30
  });

  it('rejects L, W and # where Yandex does not allow them, or inside lists and ranges', () => {
    rejects('0 0 L-3 * ? *', /^day-of-month: "L-3": L and W must stand alone/);
    rejects('0 0 1,L * ? *', /^day-of-month: "1,L": L and W must stand alone/);
    rejects('0 0 15W,20 * ? *', /^day-of-month: "15W,20": L and W must stand alone/);
    rejects('0 0 32W * ? *', 'day-of-month: 32 is out of range 1-31');
    rejects('0 0 ? * 1,6#3 *', /^day-of-week: "1,6#3": L and # must stand alone/);
    rejects('0 0 ? * 2-6L *', /^day-of-week: "2-6L": L and # must stand alone/);
    rejects('0 0 ? * 6#6 *', 'day-of-week: "6#6": the occurrence after "#" must be 1-5');
    rejects('0 0 ? * 6#0 *', 'day-of-week: "6#0": the occurrence after "#" must be 1-5');
    rejects('0 0 ? * 8#1 *', 'day-of-week: 8 is out of range 1-7 (1 = SUN, 2 = MON … 7 = SAT)');
    rejects('L 0 ? * * *', 'minutes: "L" is not a number 0-59');
    rejects('0 0 ? L * *', 'month: "L" is not a month (1-12 or JAN-DEC)');
  });
});

describe('month ends and leap years', () => {
  it('never fires day 31 in a 30-day month or in February', () => {
    assert.deepEqual(days('0 0 31 * ? *', '2024-01-01T00:00Z', 7), [
      '2024-01-31',
      '2024-03-31',
      '2024-05-31',
      '2024-07-31',
      '2024-08-31',
      '2024-10-31',
      '2024-12-31',
    ]);
  });

  it('fires 29 February in leap years only (2100 is out of range; 2000 was a leap year)', () => {
    assert.deepEqual(days('0 0 29 2 ? *', '2023-01-01T00:00Z', 3), [
      '2024-02-29',
      '2028-02-29',
      '2032-02-29',
    ]);
    assert.deepEqual(days('0 0 29 FEB ? *', '1999-01-01T00:00Z', 1), ['2000-02-29']);
  });

  it('rejects an expression that can never fire', () => {
    rejects('0 0 30 2 ? *', 'never matches any minute from 1970 to 2099');
    rejects('0 0 31 4,6,9,11 ? *', 'never matches any minute from 1970 to 2099');
    rejects('0 0 29 2 ? 2025-2027', 'never matches any minute from 1970 to 2099');
  });
});

describe('the year field', () => {
  it('limits runs to the given years and then ends', () => {
    assert.deepEqual(runs('0 0 1 1 ? 2025-2026', '2024-01-01T00:00Z', 5), [
      '2025-01-01T00:00Z',
      '2026-01-01T00:00Z',
    ]);
    assert.deepEqual(days('0 0 1 1 ? 2024/3', '2024-01-01T00:00Z', 3), [
      '2027-01-01',
      '2030-01-01',
      '2033-01-01',
    ]);
    assert.deepEqual(days('0 0 1 1 ? 2030,2025', '2024-01-01T00:00Z', 3), ['2025-01-01', '2030-01-01']);
  });

  it('accepts 1970 to 2099 and rejects years outside', () => {
    assert.deepEqual(runs('0 0 1 1 ? 1970', '1969-06-01T00:00Z', 1), ['1970-01-01T00:00Z']);
    assert.deepEqual(runs('59 23 31 12 ? 2099', '2099-01-01T00:00Z', 2), ['2099-12-31T23:59Z']);
    rejects('0 0 1 1 ? 1969', 'year: 1969 is out of range 1970-2099');
    rejects('0 0 1 1 ? 2100', 'year: 2100 is out of range 1970-2099');
    rejects('0 0 1 1 ? 24', 'year: 24 is out of range 1970-2099');
  });
});

describe('values out of range and garbage', () => {
  const cases: Array<[string, string]> = [
    ['60 0 ? * * *', 'minutes: 60 is out of range 0-59'],
    ['0 24 ? * * *', 'hours: 24 is out of range 0-23'],
    ['0 0 0 * ? *', 'day-of-month: 0 is out of range 1-31'],
    ['0 0 32 * ? *', 'day-of-month: 32 is out of range 1-31'],
    ['0 0 1 0 ? *', 'month: 0 is out of range 1-12'],
    ['0 0 1 13 ? *', 'month: 13 is out of range 1-12'],
    ['0-60 0 ? * * *', 'minutes: 60 is out of range 0-59'],
    ['abc 0 ? * * *', 'minutes: "abc" is not a number 0-59'],
    ['5x 0 ? * * *', 'minutes: "5x" is not a number 0-59'],
    ['1.5 0 ? * * *', 'minutes: "1.5" is not a number 0-59'],
    ['+5 0 ? * * *', 'minutes: "+5" is not a number 0-59'],
    ['-5 0 ? * * *', 'minutes: "-5" is not a range (start-end)'],
    ['1- 0 ? * * *', 'minutes: "1-" is not a range (start-end)'],
    ['1-2-3 0 ? * * *', 'minutes: "1-2-3" is not a range (start-end)'],
    ['1,,2 0 ? * * *', 'minutes: empty element in list "1,,2"'],
    ['1, 0 ? * * *', 'minutes: empty element in list "1,"'],
    ['*/0 0 ? * * *', 'minutes: step "0" must be a whole number from 1 to 60'],
    ['*/61 0 ? * * *', 'minutes: step "61" must be a whole number from 1 to 60'],
    ['*/x 0 ? * * *', 'minutes: step "x" must be a whole number from 1 to 60'],
    ['1/2/3 0 ? * * *', 'minutes: "1/2/3" has more than one "/"'],
    ['50-10 0 ? * * *', 'minutes: range "50-10" runs backwards (start after end)'],
    ['0 0 ? * FRI-MON *', 'day-of-week: range "FRI-MON" runs backwards (start after end)'],
    ['*,5 0 ? * * *', 'minutes: "*" cannot be combined with other values'],
    ['0 0 ?,1 * * *', 'day-of-month: "?" cannot be combined with other values'],
    ['0 0 ? * * 2024-', 'year: "2024-" is not a range (start-end)'],
  ];
  for (const [expr, problem] of cases) {
    it(`rejects "${expr}" with "${problem}"`, () => rejects(expr, problem));
  }

  it('names a non-string expression', () => {
    assert.throws(
      () => parseYandexCron(3 as unknown as string, 'jobs.x.schedule'),
      /^ConfigError: jobs\.x\.schedule: must be a string, got number$/,
    );
  });
});

describe('matches', () => {
  const cron = parseYandexCron('30 3 ? * MON-FRI *');

  it('is true for a scheduled minute and ignores seconds and milliseconds', () => {
    assert.equal(cron.matches(new Date('2024-01-01T03:30:00Z')), true);
    assert.equal(cron.matches(new Date('2024-01-01T03:30:59.999Z')), true);
  });

  it('is false for other minutes and days', () => {
    assert.equal(cron.matches(new Date('2024-01-01T03:31:00Z')), false);
    assert.equal(cron.matches(new Date('2024-01-01T03:29:59Z')), false);
    assert.equal(cron.matches(new Date('2024-01-06T03:30:00Z')), false); // Saturday
  });

  it('rejects an invalid date', () => {
    assert.throws(() => cron.matches(new Date('nonsense')), RangeError);
  });
});

describe('latestAtOrBefore', () => {
  const at = (expr: string, now: string) => iso(parseYandexCron(expr).latestAtOrBefore(new Date(now)));

  it('answers the minute containing now when it is scheduled', () => {
    assert.equal(at('0 3 ? * * *', '2024-05-10T03:00:00Z'), '2024-05-10T03:00Z');
    assert.equal(at('0 3 ? * * *', '2024-05-10T03:00:59.999Z'), '2024-05-10T03:00Z');
  });

  it('answers the previous slot one minute before a slot', () => {
    assert.equal(at('0 3 ? * * *', '2024-05-10T02:59:59Z'), '2024-05-09T03:00Z');
  });

  it('crosses day, month and year boundaries', () => {
    assert.equal(at('0 23 ? * * *', '2024-03-01T00:10Z'), '2024-02-29T23:00Z');
    assert.equal(at('0 0 L * ? *', '2024-03-15T00:00Z'), '2024-02-29T00:00Z');
    assert.equal(at('0 12 1 1 ? *', '2024-01-01T11:59Z'), '2023-01-01T12:00Z');
    assert.equal(at('45 23 31 12 ? *', '2024-01-01T00:00Z'), '2023-12-31T23:45Z');
    assert.equal(at('0 0 29 2 ? *', '2024-02-28T23:59Z'), '2020-02-29T00:00Z');
  });

  it('finds the latest run of a schedule whose years are over', () => {
    assert.equal(at('0 0 1 1 ? 2025', '2030-06-01T00:00Z'), '2025-01-01T00:00Z');
    assert.equal(at('59 23 31 12 ? *', '2100-06-01T00:00Z'), '2099-12-31T23:59Z');
  });

  it('answers undefined before a schedule begins', () => {
    assert.equal(at('0 0 1 1 ? 2030', '2029-12-31T23:59Z'), undefined);
    assert.equal(at('0 0 ? * * *', '1969-12-31T23:59Z'), undefined);
  });
});

describe('nextAfter', () => {
  const after = (expr: string, d: string) => iso(parseYandexCron(expr).nextAfter(new Date(d)));

  it('answers strictly later minutes: a slot is not after itself', () => {
    assert.equal(after('0 3 ? * * *', '2024-05-10T03:00:00Z'), '2024-05-11T03:00Z');
    assert.equal(after('0 3 ? * * *', '2024-05-10T02:59:59.999Z'), '2024-05-10T03:00Z');
    assert.equal(after('0 3 ? * * *', '2024-05-10T03:00:30Z'), '2024-05-11T03:00Z');
  });

  it('crosses day, month and year boundaries', () => {
    assert.equal(after('0 0 ? * * *', '2024-02-28T23:59:59Z'), '2024-02-29T00:00Z');
    assert.equal(after('0 0 1 * ? *', '2024-01-31T12:00Z'), '2024-02-01T00:00Z');
    assert.equal(after('0 0 1 1 ? *', '2024-12-31T23:59Z'), '2025-01-01T00:00Z');
    assert.equal(after('0 0 29 2 ? *', '2024-03-01T00:00Z'), '2028-02-29T00:00Z');
  });

  it('answers undefined after the last year', () => {
    assert.equal(after('0 0 1 1 ? 2025', '2025-01-01T00:00Z'), undefined);
    assert.equal(after('0 0 ? * * *', '2099-12-31T00:00Z'), undefined);
  });
});

describe('consistency of matches, nextAfter and latestAtOrBefore', () => {
  const expressions = [
    '*/7 1-3 ? * * *',
    '0/20 */5 ? * 2-6 *',
    '59 23 L * ? *',
    '0 12 LW * ? *',
    '0 6 ? * 6#1 *',
    '30 0 ? * L *',
    '0 9 1W * ? *',
  ];
  // 2024-02-25 (Sunday) .. 2024-03-04: crosses a leap-day month end and a week boundary.
  const start = Date.UTC(2024, 1, 25);
  const end = Date.UTC(2024, 2, 5);
  for (const expr of expressions) {
    it(`finds exactly the minutes that match "${expr}", both ways`, () => {
      const cron: YandexCron = parseYandexCron(expr);
      const matching: number[] = [];
      for (let t = start; t < end; t += 60_000) if (cron.matches(new Date(t))) matching.push(t);
      assert.ok(matching.length > 0, 'the window contains at least one slot');
      const forward: number[] = [];
      for (let d = cron.nextAfter(new Date(start - 60_000)); d && d.getTime() < end; d = cron.nextAfter(d)) {
        forward.push(d.getTime());
      }
      assert.deepEqual(forward, matching);
      const backward: number[] = [];
      for (
        let d = cron.latestAtOrBefore(new Date(end - 1));
        d && d.getTime() >= start;
        d = cron.latestAtOrBefore(new Date(d.getTime() - 1))
      ) {
        backward.push(d.getTime());
      }
      assert.deepEqual(backward.reverse(), matching);
    });
  }
});

describe('time zone', () => {
  const module = join(import.meta.dirname, '..', '..', 'shared', 'schedule', 'yandex-cron.ts');
  const script = `
    const m = await import(${JSON.stringify(module)});
    const { parseYandexCron } = m.default ?? m;
    const c = parseYandexCron('0 0 ? * 2');
    console.log(JSON.stringify([
      c.nextAfter(new Date('2024-01-01T00:00:00Z')).toISOString(),
      c.matches(new Date('2024-01-08T00:00:00Z')),
      c.latestAtOrBefore(new Date('2024-01-10T00:00:00Z')).toISOString(),
    ]));`;
  for (const tz of ['Pacific/Kiritimati', 'America/Los_Angeles']) {
    it(`evaluates in UTC whatever the process time zone is (${tz})`, () => {
      const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        env: { ...process.env, TZ: tz },
        encoding: 'utf8',
      });
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), [
        '2024-01-08T00:00:00.000Z',
        true,
        '2024-01-08T00:00:00.000Z',
      ]);
    });
  }
});
