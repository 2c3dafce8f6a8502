/**
 * ProtoJSON timestamps: RFC 3339 with `Z` or an offset and 0 to 9 fractional digits (Yandex sends 9).
 * `Date` keeps milliseconds, so digits past the third are truncated, never rounded (rounding could move
 * a time into the next second, or past a deadline).
 */
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Parses an RFC 3339 timestamp; throws a `RangeError` naming the value for anything else. */
export function parseProtoTimestamp(text: string): Date {
  const ms = protoTimestampMs(text);
  if (ms === undefined) {
    throw new RangeError(`not an RFC 3339 timestamp: ${JSON.stringify(text.slice(0, 64))}`);
  }
  return new Date(ms);
}

/** True when `text` is a valid RFC 3339 timestamp (what the decoders check). */
export function isProtoTimestamp(text: string): boolean {
  return protoTimestampMs(text) !== undefined;
}

function protoTimestampMs(text: string): number | undefined {
  const m = TIMESTAMP.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  // Protobuf Timestamp has no leap seconds, so 60 is rejected like any other out-of-range field.
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const offHours = Number(m[10]);
    const offMinutes = Number(m[11]);
    if (offHours > 23 || offMinutes > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offHours * 60 + offMinutes);
  }
  const millis = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0..99 to 1900..1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millis);
  return date.getTime() - offsetMinutes * 60_000;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}
