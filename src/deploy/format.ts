/** 1234567 -> "1.2 MB": sizes for people, in the units `du -h` users read. */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** 75 -> "1 min 15 s". */
export function formatDuration(seconds: number): string {
  const whole = Math.max(1, Math.round(seconds));
  return whole < 60 ? `${whole} s` : `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, "0")} s`;
}

/**
 * The upload's progress line: bytes on the wire and their rate, and, once there is enough to
 * go on, how much of the archive is packed and the time left at the pace so far.
 */
export function uploadProgress(progress: { sent: number; packed: number; total: number; elapsedMs: number }): string {
  const seconds = Math.max(0.001, progress.elapsedMs / 1000);
  const line = `${formatBytes(progress.sent)} sent, ${formatBytes(progress.sent / seconds)}/s`;
  const done = Math.min(1, progress.packed / Math.max(1, progress.total));
  if (seconds < 1 || done < 0.01) return line;
  if (done >= 1) return `${line}, 100 %`;
  return `${line}, ${Math.floor(done * 100)} %, about ${formatDuration((seconds * (1 - done)) / done)} left`;
}

/** 1, "folder" -> "1 folder"; 2, "folder" -> "2 folders". */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
