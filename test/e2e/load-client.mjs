// A steady HTTP load that records every failed request (zero-downtime tests and `npm run bench`).
// Plain Node, no dependencies. Requests go out at a fixed rate, whatever the answers' speed (an
// open loop, as users arrive), half GETs, half POSTs whose small body the server must echo back.
// A failure is an answer of status 500 or more, a connection error or timeout, or a POST whose
// answer is not its own body. Run alone: node test/e2e/load-client.mjs URL [RATE] [SECONDS].
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { clearInterval, setInterval } from "node:timers";

/** How many failures the report keeps as examples (all are counted). */
const SAMPLE = 20;
/** How often the sender wakes to send what the rate owes. */
const TICK_MS = 5;

/**
 * Starts the load on URL. It runs for `seconds`, or until stop(); both resolve to the report
 * once every request sent has ended:
 * { sent, failed, failedPosts, gets, posts, failures: [{ method, atMs, status?, error }], maxMs, p50, p99 }.
 */
export function startLoad(url, { rate = 200, seconds, timeoutMs = 10_000, headers = {} } = {}) {
  const target = new URL(url);
  const https = target.protocol === "https:";
  const agent = new (https ? HttpsAgent : HttpAgent)({ keepAlive: true, maxSockets: 512 });
  const request = https ? httpsRequest : httpRequest;
  const started = performance.now();
  const latencies = [];
  const failures = [];
  const pending = new Set();
  const counts = { sent: 0, failed: 0, failedPosts: 0, gets: 0, posts: 0 };

  const fail = (method, sentAt, status, error) => {
    counts.failed++;
    if (method === "POST") counts.failedPosts++;
    if (failures.length < SAMPLE) failures.push({ method, atMs: Math.round(sentAt - started), status, error });
  };

  const one = (index) =>
    new Promise((resolve) => {
      const post = index % 2 === 1;
      const method = post ? "POST" : "GET";
      const body = post ? JSON.stringify({ n: index, token: randomBytes(6).toString("hex") }) : undefined;
      counts[post ? "posts" : "gets"]++;
      const sentAt = performance.now();
      const end = (status, error) => {
        latencies.push(performance.now() - sentAt);
        if (error !== undefined) fail(method, sentAt, status, error);
        resolve();
      };
      const req = request(target, {
        method,
        agent,
        timeout: timeoutMs,
        headers: { ...headers, ...(post ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {}) },
      });
      req.on("response", (res) => {
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("error", (error) => end(res.statusCode, error.message));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode >= 500) end(res.statusCode, `status ${res.statusCode}`);
          else if (post && text !== body) end(res.statusCode, `not its body echoed: ${text.slice(0, 80)}`);
          else end(res.statusCode);
        });
      });
      req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on("error", (error) => end(undefined, error.message));
      req.end(body);
    });

  let stopped = false;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const timer = setInterval(() => {
    const elapsed = performance.now() - started;
    const owed = Math.floor((Math.min(elapsed, seconds === undefined ? Infinity : seconds * 1000) * rate) / 1000);
    while (!stopped && counts.sent < owed) {
      const promise = one(counts.sent++);
      pending.add(promise);
      promise.then(() => pending.delete(promise));
    }
    if (seconds !== undefined && elapsed >= seconds * 1000) stop();
  }, TICK_MS);

  async function stop() {
    if (!stopped) {
      stopped = true;
      clearInterval(timer);
      while (pending.size > 0) await Promise.all([...pending]);
      agent.destroy();
      finish(report());
    }
    return finished;
  }

  function report() {
    const sorted = [...latencies].sort((a, b) => a - b);
    const at = (q) => (sorted.length === 0 ? 0 : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]));
    return { ...counts, failures, maxMs: Math.round(sorted.at(-1) ?? 0), p50: at(0.5), p99: at(0.99) };
  }

  return { stop, done: finished };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [url, rate = "200", seconds = "10"] = process.argv.slice(2);
  if (!url) {
    console.error("usage: node test/e2e/load-client.mjs URL [RATE] [SECONDS]");
    process.exit(2);
  }
  const load = startLoad(url, { rate: Number(rate), seconds: Number(seconds) });
  process.on("SIGINT", () => void load.stop());
  console.log(JSON.stringify(await load.done, null, 2));
}
