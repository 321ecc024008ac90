import { describe, expect, it } from "vitest";
import { asleep, asyncAccepted, eventStreamHeaders, notFound, problem, RESERVED_PREFIX, STATUS_PATH, unitStatus, waitingPage } from "../../../src/proxy/answers.js";
import type { Route } from "../../../src/proxy/model.js";

const ROUTE: Route = {
  name: "whisperx",
  project: "whisperx-internal-project",
  hosts: ["whisperx.example.com"],
  mode: "async",
  idleMs: 1_800_000,
  startTimeoutMs: 300_000,
  target: { kind: "container", service: "api-secret-service", port: 8002 },
  source: { kind: "labels", container: "whisperx-api-1" },
};

function body(answer: { body: string }): Record<string, unknown> {
  return JSON.parse(answer.body) as Record<string, unknown>;
}

describe("asyncAccepted", () => {
  it("answers 202 with the seed's JSON body, Retry-After and Location", () => {
    const answer = asyncAccepted(ROUTE, 30, STATUS_PATH);
    expect(answer.status).toBe(202);
    expect(answer.headers).toEqual({
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      "retry-after": "30",
      location: "/__deploy-vps/status",
    });
    expect(body(answer)).toEqual({
      status: "starting",
      message: "Service whisperx is starting. Please retry in 30 seconds.",
      service: "whisperx",
      estimatedTime: 30,
      retryAfter: 30,
      healthCheckUrl: "/__deploy-vps/status",
    });
  });

  it("rounds the estimate up to whole seconds, at least 1", () => {
    expect(asyncAccepted(ROUTE, 12.2, STATUS_PATH).headers["retry-after"]).toBe("13");
    expect(asyncAccepted(ROUTE, 0, STATUS_PATH).headers["retry-after"]).toBe("1");
    expect(asyncAccepted(ROUTE, Number.NaN, STATUS_PATH).headers["retry-after"]).toBe("1");
    expect(body(asyncAccepted(ROUTE, 0.4, STATUS_PATH)).retryAfter).toBe(1);
  });
});

describe("problem", () => {
  it("is an RFC 9457 document, never cached", () => {
    const answer = problem(504, "Gateway Timeout", "whisperx did not become ready within 5m", { service: "whisperx" });
    expect(answer.status).toBe(504);
    expect(answer.headers).toEqual({ "content-type": "application/problem+json; charset=utf-8", "cache-control": "no-store" });
    expect(body(answer)).toEqual({
      type: "about:blank",
      title: "Gateway Timeout",
      status: 504,
      detail: "whisperx did not become ready within 5m",
      service: "whisperx",
    });
  });

  it("does not let extra members replace the standard ones", () => {
    expect(body(problem(502, "Bad Gateway", "x", { status: 200, title: "OK" }))).toMatchObject({ status: 502, title: "Bad Gateway" });
  });
});

describe("notFound", () => {
  it("is a plain 404 that names nothing internal", () => {
    const answer = notFound();
    expect(answer.status).toBe(404);
    expect(answer.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(answer.body).toBe("Not Found\n");
    expect(JSON.stringify(answer)).not.toMatch(/deploy-vps|version|\d+\.\d+\.\d+/i);
  });
});

describe("asleep", () => {
  it("tells a monitor 503 and when to come back, nothing internal", () => {
    const answer = asleep(ROUTE, 20);
    expect(answer.status).toBe(503);
    expect(answer.headers).toMatchObject({ "retry-after": "20", "cache-control": "no-store" });
    expect(answer.headers["content-type"]).toContain("application/problem+json");
    expect(body(answer)).toMatchObject({ status: 503, title: "Service Unavailable", retryAfter: 20 });
    const text = JSON.stringify(answer);
    for (const internal of ["whisperx", "api-secret-service", "8002", "deploy-vps"]) expect(text).not.toContain(internal);
  });
});

describe("unitStatus", () => {
  it("says the state, and while waiting, when to look again", () => {
    const starting = unitStatus(ROUTE, "starting", { estimateSeconds: 7.5 });
    expect(starting.status).toBe(200);
    expect(starting.headers).toMatchObject({ "retry-after": "8", "cache-control": "no-store", "content-type": "application/json; charset=utf-8" });
    expect(body(starting)).toEqual({ service: "whisperx", state: "starting", ready: false, estimatedTime: 8, retryAfter: 8 });
  });

  it("says ready without a retry", () => {
    const ready = unitStatus(ROUTE, "ready", { estimateSeconds: 8 });
    expect(body(ready)).toEqual({ service: "whisperx", state: "ready", ready: true });
    expect(ready.headers["retry-after"]).toBeUndefined();
  });

  it("lists each container's progress, and for a failed start the sentence that names the one to blame", () => {
    const containers = [
      { name: "databases-shared/postgresql", phase: "failed" },
      { name: "web", phase: "pending" },
    ];
    const failed = body(unitStatus(ROUTE, "failed", { estimateSeconds: 8, containers, failure: "databases-shared/postgresql could not be started." }));
    expect(failed).toEqual({ service: "whisperx", state: "failed", ready: false, containers, failure: "databases-shared/postgresql could not be started." });
    expect(body(unitStatus(ROUTE, "starting", { estimateSeconds: 8, containers, failure: "not shown while starting" }))).not.toHaveProperty("failure");
  });

  it("says failed or disabled without the reason, which is for proxy status", () => {
    expect(body(unitStatus(ROUTE, "failed", { estimateSeconds: 8 }))).toEqual({ service: "whisperx", state: "failed", ready: false });
  });
});

describe("waitingPage", () => {
  it("answers the page as a 503 to come back to, never stored, that may load nothing but itself", () => {
    const answer = waitingPage("<p>page</p>", 12);
    expect(answer).toEqual({
      status: 503,
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "retry-after": "12",
        "x-content-type-options": "nosniff",
        "content-security-policy":
          "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'",
      },
      body: "<p>page</p>",
    });
  });

  it("gives Retry-After in whole seconds, at least 1", () => {
    expect(waitingPage("", 4.2).headers["retry-after"]).toBe("5");
    expect(waitingPage("", 0).headers["retry-after"]).toBe("1");
    expect(waitingPage("", Number.NaN).headers["retry-after"]).toBe("1");
  });
});

describe("eventStreamHeaders", () => {
  it("makes the stream an unbuffered, unstored event stream", () => {
    expect(eventStreamHeaders).toEqual({
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
      "x-content-type-options": "nosniff",
    });
  });
});

describe("RESERVED_PREFIX", () => {
  it("holds the status path", () => {
    expect(RESERVED_PREFIX).toBe("/__deploy-vps/");
    expect(STATUS_PATH.startsWith(RESERVED_PREFIX)).toBe(true);
  });
});
