/**
 * The daemon's log: one JSON line per event on stdout (what `docker logs` and journald keep),
 * the last lines held for `proxy logs`, and followers fed as lines come.
 */
export type LogLevel = "info" | "warn" | "error";

export class DaemonLog {
  private readonly recent: string[] = [];
  private readonly followers = new Set<(line: string) => void>();

  constructor(
    private readonly keep = 1000,
    private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  ) {}

  info(message: string, fields: Record<string, unknown> = {}): void {
    this.add("info", message, fields);
  }

  warn(message: string, fields: Record<string, unknown> = {}): void {
    this.add("warn", message, fields);
  }

  error(message: string, fields: Record<string, unknown> = {}): void {
    this.add("error", message, fields);
  }

  private add(level: LogLevel, message: string, fields: Record<string, unknown>): void {
    const line = JSON.stringify({ time: new Date().toISOString(), level, message, ...fields });
    this.recent.push(line);
    if (this.recent.length > this.keep) this.recent.shift();
    this.write(line);
    for (const follower of this.followers) follower(line);
  }

  lines(count: number): string[] {
    return this.recent.slice(-Math.max(0, count));
  }

  /** Returns the function that stops following. */
  follow(listener: (line: string) => void): () => void {
    this.followers.add(listener);
    return () => this.followers.delete(listener);
  }
}
