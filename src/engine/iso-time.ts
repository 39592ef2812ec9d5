/**
 * `isoTime(ms)`: what `new Date(ms).toISOString()` returns, about five times faster for
 * the times sessions have (1970 to 9999, whole milliseconds; anything else goes to `Date`).
 * A cached session's public times are formatted whenever its answer is made again, so this
 * is on the path of validating a session that is not among the hot answers.
 *
 * Days to a civil date: H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"
 * (`civil_from_days`). The string is built in one piece (`String.fromCharCode`), not
 * concatenated, so that it is kept as a flat 24-character string.
 */
const MAX_FAST_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
const DAY_MS = 86_400_000;
const ZERO = 0x30;

export function isoTime(ms: number): string {
  if (!(ms >= 0 && ms <= MAX_FAST_MS) || ms % 1 !== 0) return new Date(ms).toISOString();
  const days = Math.floor(ms / DAY_MS);
  let rest = ms - days * DAY_MS;
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  const milli = rest - second * 1000;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return String.fromCharCode(
    ZERO + Math.floor(year / 1000),
    ZERO + (Math.floor(year / 100) % 10),
    ZERO + (Math.floor(year / 10) % 10),
    ZERO + (year % 10),
    0x2d, // -
    ZERO + Math.floor(month / 10),
    ZERO + (month % 10),
    0x2d,
    ZERO + Math.floor(day / 10),
    ZERO + (day % 10),
    0x54, // T
    ZERO + Math.floor(hour / 10),
    ZERO + (hour % 10),
    0x3a, // :
    ZERO + Math.floor(minute / 10),
    ZERO + (minute % 10),
    0x3a,
    ZERO + Math.floor(second / 10),
    ZERO + (second % 10),
    0x2e, // .
    ZERO + Math.floor(milli / 100),
    ZERO + (Math.floor(milli / 10) % 10),
    ZERO + (milli % 10),
    0x5a, // Z
  );
}
