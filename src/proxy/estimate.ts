/**
 * How long a unit's start will take, as async clients are told (`Retry-After`, `estimatedTime`):
 * learned from its own last starts, so a slow stack stops being promised the default.
 */

/** Before any start was measured and with no `deploy-vps.proxy.estimate` label. */
export const DEFAULT_ESTIMATE_SECONDS = 30;

/** The starts an estimate is made from: enough to outvote one cold cache, few enough to follow a change. */
export const STARTS_KEPT = 10;

/**
 * Whole seconds, rounded up and at least 1: the median of the starts given (one slow start does
 * not move it), else the label's, else the default.
 */
export function estimateSeconds(startsMs: readonly number[], labelMs?: number): number {
  const ms = startsMs.length > 0 ? median(startsMs) : labelMs;
  return ms === undefined ? DEFAULT_ESTIMATE_SECONDS : Math.max(1, Math.ceil(ms / 1000));
}

/** In ms: the median of the starts given, else the fallback. */
export function estimateMs(startsMs: readonly number[], fallbackMs: number): number {
  return startsMs.length > 0 ? Math.round(median(startsMs)) : fallbackMs;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const low = sorted[Math.ceil(sorted.length / 2) - 1] ?? 0;
  const high = sorted[Math.floor(sorted.length / 2)] ?? 0;
  return (low + high) / 2;
}

/** The starts to keep once one more took `ms`: the newest `keep`. */
export function rememberStart(startsMs: readonly number[], ms: number, keep = STARTS_KEPT): number[] {
  return [...startsMs, ms].slice(-keep);
}
