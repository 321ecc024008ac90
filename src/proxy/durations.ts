/**
 * Durations as people write them in labels and config files: `500ms`, `30s`, `5m`, `1h30m`, or a
 * bare number of seconds. Kept in milliseconds everywhere else.
 */

const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
/** Largest first, each at most once: `1h30m`, not `30m1h` or `1m1m`. */
const UNITS: readonly Unit[] = ["h", "m", "s", "ms"];
const PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/y;
const BARE_SECONDS = /^\d+(?:\.\d+)?$/;

/** Milliseconds, or undefined for anything else (negative, empty, unknown unit, units out of order). */
export function parseDuration(text: string): number | undefined {
  const source = text.trim().toLowerCase();
  if (source === "") return undefined;
  if (BARE_SECONDS.test(source)) return whole(Number(source) * 1000);
  PART.lastIndex = 0;
  let total = 0;
  let next = 0;
  while (PART.lastIndex < source.length) {
    const match = PART.exec(source);
    if (!match) return undefined;
    const unit = match[2] as Unit;
    const rank = UNITS.indexOf(unit);
    if (rank < next) return undefined;
    next = rank + 1;
    total += Number(match[1]) * UNIT_MS[unit];
  }
  return whole(total);
}

/** Rounded to the millisecond; undefined past what a number holds exactly. */
function whole(ms: number): number | undefined {
  const rounded = Math.round(ms);
  return Number.isSafeInteger(rounded) ? rounded : undefined;
}

/** An idle setting: a duration, or `never` (null: never stopped for idleness). */
export function parseIdle(text: string): number | null | undefined {
  return text.trim().toLowerCase() === "never" ? null : parseDuration(text);
}

/** 1800000 -> "30m", 5400000 -> "1h30m", 1500 -> "1.5s", 250 -> "250ms", null -> "never"; parseDuration reads it back. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return "never";
  const total = Math.max(0, Math.round(ms));
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / UNIT_MS.h);
  const minutes = Math.floor((total % UNIT_MS.h) / UNIT_MS.m);
  const seconds = (total % UNIT_MS.m) / 1000;
  return (hours ? `${hours}h` : "") + (minutes ? `${minutes}m` : "") + (seconds ? `${seconds}s` : "");
}
