import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startLoad } from "../../e2e/load-client.mjs";

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** How long a "slow" answer waits: far beyond what a busy host adds to the others. */
const SLOW_MS = 600;

/** A local server that echoes POST bodies, and fails on purpose as ANSWER says for request number n. */
async function serve(answer: (n: number, req: { method?: string }) => "ok" | "500" | "wrong" | "drop" | "slow"): Promise<string> {
  let n = 0;
  server = createServer((req, res) => {
    const kind = answer(n++, req);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (kind === "drop") return req.socket.destroy();
      if (kind === "500") return res.writeHead(500).end("oops");
      const reply = () => res.end(req.method === "POST" ? (kind === "wrong" ? "{}" : Buffer.concat(chunks)) : "hello");
      if (kind === "slow") setTimeout(reply, SLOW_MS);
      else reply();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

describe("load client", () => {
  it("sends at the rate, half GETs half POSTs, and counts no failure against a healthy server", async () => {
    const url = await serve(() => "ok");
    const report = await startLoad(url, { rate: 200, seconds: 1 }).done;
    expect(report.sent).toBe(200);
    expect([report.gets, report.posts]).toEqual([100, 100]);
    expect(report.failed).toBe(0);
    expect(report.failures).toEqual([]);
    expect(report.p50).toBeLessThanOrEqual(report.p99);
    expect(report.p99).toBeLessThanOrEqual(report.maxMs);
  });

  it("counts every 5xx, dropped connection and POST not echoed, and keeps a sample", async () => {
    // Of each method's requests, every tenth fails: GETs with a 500 or a dropped connection in turn, POSTs with a wrong echo.
    const seen = { GET: 0, POST: 0 };
    const url = await serve((_, req) => {
      const n = req.method === "POST" ? seen.POST++ : seen.GET++;
      if (n % 10 !== 9) return "ok";
      if (req.method === "POST") return "wrong";
      return n % 20 === 9 ? "500" : "drop";
    });
    const report = await startLoad(url, { rate: 300, seconds: 1 }).done;
    expect(report.sent).toBe(300);
    expect(report.failed).toBe(30);
    expect(report.failures).toHaveLength(20);
    const kinds = new Set(report.failures.map((f) => (f.status === undefined ? "connection" : f.error.replace(/:.*/, ""))));
    expect(kinds).toEqual(new Set(["status 500", "connection", "not its body echoed"]));
  });

  it("measures the longest answer, and stop() ends a load that has no duration", async () => {
    const url = await serve((n) => (n === 3 ? "slow" : "ok"));
    const load = startLoad(url, { rate: 100 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const report = await load.stop();
    expect(report.sent).toBeGreaterThan(10);
    expect(report.failed).toBe(0);
    expect(report.maxMs).toBeGreaterThanOrEqual(SLOW_MS - 5);
    expect(report.p50).toBeLessThan(SLOW_MS / 2);
  });

  it("counts a refused connection and a timeout", async () => {
    const url = await serve(() => "slow");
    const timedOut = await startLoad(url, { rate: 20, seconds: 0.5, timeoutMs: 50 }).done;
    expect(timedOut.failed).toBe(timedOut.sent);
    expect(timedOut.failures[0]?.error).toMatch(/no answer within 50 ms/);
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    server = undefined;
    const refused = await startLoad(url, { rate: 20, seconds: 0.5 }).done;
    expect(refused.failed).toBe(refused.sent);
    expect(refused.failures[0]?.error).toMatch(/ECONNREFUSED/);
  });
});
