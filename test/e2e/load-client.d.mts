// Types of load-client.mjs (plain ESM, shared with the benchmark).
export interface LoadFailure {
  method: "GET" | "POST";
  /** When the request was sent, from the start of the load. */
  atMs: number;
  status?: number;
  error: string;
}

export interface LoadReport {
  sent: number;
  failed: number;
  /** Of `failed`, the POSTs: a proxy may not replay one it already sent. */
  failedPosts: number;
  gets: number;
  posts: number;
  /** The first failures, as examples; every one is counted in `failed`. */
  failures: LoadFailure[];
  maxMs: number;
  p50: number;
  p99: number;
}

export interface LoadOptions {
  /** Requests per second (default 200). */
  rate?: number;
  /** Runs this long; else until stop(). */
  seconds?: number;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

export interface Load {
  stop(): Promise<LoadReport>;
  done: Promise<LoadReport>;
}

export function startLoad(url: string, options?: LoadOptions): Load;
