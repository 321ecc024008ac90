import { describe, expect, it } from "vitest";
import { EnvironmentError } from "../../../src/errors.js";
import { assess, classify, isErrorLine, STABLE_AFTER_MS } from "../../../src/health/classify.js";
import { type ContainerState, parseInspect } from "../../../src/health/containers.js";

const STARTED = Date.parse("2024-05-01T10:00:00.000Z");

function container(overrides: Partial<ContainerState> = {}): ContainerState {
  return {
    id: "c-web",
    name: "shop-web-1",
    service: "web",
    status: "running",
    exitCode: 0,
    restartCount: 0,
    startedAt: STARTED,
    createdAt: 0,
    oneOff: false,
    ...overrides,
  };
}

/** A hand-written sample of `docker inspect` output, trimmed to the fields that matter plus noise. */
const INSPECT = JSON.stringify([
  {
    Id: "a1b2c3",
    Created: "2024-04-28T09:59:58.1Z",
    Path: "docker-entrypoint.sh",
    Name: "/shop-web-1",
    RestartCount: 3,
    State: {
      Status: "running",
      Running: true,
      Restarting: false,
      ExitCode: 0,
      StartedAt: "2024-05-01T10:00:00.5Z",
      FinishedAt: "0001-01-01T00:00:00Z",
      Health: { Status: "healthy", FailingStreak: 0, Log: [] },
    },
    Config: {
      Image: "shop/web:latest",
      Labels: {
        "com.docker.compose.project": "shop",
        "com.docker.compose.service": "web",
        "com.docker.compose.oneoff": "False",
      },
    },
  },
  {
    Id: "d4e5f6",
    Name: "/shop-migrate-run-1a2b",
    RestartCount: 0,
    State: { Status: "exited", ExitCode: 1, StartedAt: "2024-05-01T10:00:01Z", Health: null },
    Config: {
      Labels: { "com.docker.compose.service": "migrate", "com.docker.compose.oneoff": "True" },
    },
  },
  {
    Id: "0789ab",
    Name: "/standalone",
    State: { Status: "restarting", ExitCode: 137, StartedAt: "" },
    Config: { Labels: null },
  },
]);

describe("parseInspect", () => {
  it("reads name, service, state, exit code, restarts, start time, health and one-off", () => {
    expect(parseInspect(INSPECT)).toEqual([
      {
        id: "a1b2c3",
        name: "shop-web-1",
        service: "web",
        status: "running",
        exitCode: 0,
        restartCount: 3,
        startedAt: Date.parse("2024-05-01T10:00:00.500Z"),
        createdAt: Date.parse("2024-04-28T09:59:58.100Z"),
        health: "healthy",
        oneOff: false,
      },
      {
        id: "d4e5f6",
        name: "shop-migrate-run-1a2b",
        service: "migrate",
        status: "exited",
        exitCode: 1,
        restartCount: 0,
        startedAt: Date.parse("2024-05-01T10:00:01.000Z"),
        createdAt: 0,
        health: undefined,
        oneOff: true,
      },
      {
        id: "0789ab",
        name: "standalone",
        service: "standalone",
        status: "restarting",
        exitCode: 137,
        restartCount: 0,
        startedAt: 0,
        createdAt: 0,
        health: undefined,
        oneOff: false,
      },
    ]);
  });

  it("defaults missing fields", () => {
    expect(parseInspect("[{}]")).toEqual([
      {
        id: "",
        name: "",
        service: "",
        status: "unknown",
        exitCode: 0,
        restartCount: 0,
        startedAt: 0,
        createdAt: 0,
        health: undefined,
        oneOff: false,
      },
    ]);
  });

  it("reads empty output as no containers", () => {
    expect(parseInspect("")).toEqual([]);
    expect(parseInspect("  \n")).toEqual([]);
    expect(parseInspect("[]\n")).toEqual([]);
  });

  it("throws an EnvironmentError on output that is not JSON", () => {
    const text = "Error: No such object: abc";
    expect(() => parseInspect(text)).toThrow(EnvironmentError);
    expect(() => parseInspect(text)).toThrow(
      "docker inspect answered something that is not JSON: Error: No such object: abc",
    );
    expect(() => parseInspect(`[{"Id": "x"`)).toThrow(EnvironmentError);
  });

  it("cuts a long non-JSON answer to 120 characters in the message", () => {
    const text = `<${"x".repeat(200)}`;
    // The whole message, so nothing past the 120th character can be in it.
    expect(() => parseInspect(text)).toThrow(
      new EnvironmentError(`docker inspect answered something that is not JSON: ${text.slice(0, 120)}`),
    );
  });

  it("throws when the JSON is not an array", () => {
    expect(() => parseInspect(`{"Id": "x"}`)).toThrow(
      new EnvironmentError("docker inspect did not answer a JSON array."),
    );
  });
});

describe("classify", () => {
  const now = STARTED + 60_000;

  it("flags a restarting container as crash-looping", () => {
    expect(classify(container({ status: "restarting", exitCode: 1, restartCount: 4 }), 4, now)).toEqual({
      service: "web",
      container: "shop-web-1",
      state: "restarting",
      health: undefined,
      restarts: 4,
      condition: "crash-looping",
      flagged: true,
      settled: true,
      reason: "restarting (exit code 1)",
    });
  });

  it("flags a running container whose restart count rose since first seen", () => {
    const verdict = classify(container({ restartCount: 5 }), 2, now);
    expect(verdict).toMatchObject({
      condition: "crash-looping",
      flagged: true,
      settled: true,
      restarts: 5,
      reason: "restarted 3 times while watched",
    });
  });

  it("does not flag restarts that happened before the watch", () => {
    expect(classify(container({ restartCount: 5 }), 5, now)).toMatchObject({
      condition: "running",
      flagged: false,
      settled: true,
    });
  });

  it("takes exit 0 as a completed one-shot service", () => {
    const verdict = classify(container({ status: "exited", exitCode: 0 }), 0, now);
    expect(verdict).toEqual({
      service: "web",
      container: "shop-web-1",
      state: "exited",
      health: undefined,
      restarts: 0,
      condition: "completed",
      flagged: false,
      settled: true,
    });
    expect(verdict.reason).toBeUndefined();
  });

  it.each(["exited", "dead"])("flags %s with a non-zero code", (status) => {
    expect(classify(container({ status, exitCode: 1 }), 0, now)).toMatchObject({
      condition: "exited",
      flagged: true,
      settled: true,
      reason: "exited with code 1",
    });
  });

  it("flags unhealthy", () => {
    expect(classify(container({ health: "unhealthy" }), 0, now)).toEqual({
      service: "web",
      container: "shop-web-1",
      state: "running",
      health: "unhealthy",
      restarts: 0,
      condition: "unhealthy",
      flagged: true,
      settled: true,
      reason: "healthcheck reports unhealthy",
    });
  });

  it("settles healthy at once", () => {
    expect(classify(container({ health: "healthy", startedAt: now }), 0, now)).toMatchObject({
      condition: "healthy",
      flagged: false,
      settled: true,
      health: "healthy",
    });
  });

  it("waits on a starting healthcheck however long it has run", () => {
    expect(classify(container({ health: "starting" }), 0, STARTED + 3_600_000)).toMatchObject({
      condition: "starting",
      flagged: false,
      settled: false,
    });
  });

  it.each(["created", "paused"])("waits on a %s container", (status) => {
    expect(classify(container({ status }), 0, now)).toMatchObject({
      condition: "starting",
      flagged: false,
      settled: false,
    });
  });

  it("settles a running container without healthcheck only after STABLE_AFTER_MS", () => {
    expect(STABLE_AFTER_MS).toBe(10_000);
    const c = container();
    expect(classify(c, 0, STARTED).settled).toBe(false);
    expect(classify(c, 0, STARTED + 9_999).settled).toBe(false);
    expect(classify(c, 0, STARTED + 10_000).settled).toBe(true);
    expect(classify(c, 0, STARTED + 9_999)).toMatchObject({ condition: "running", flagged: false });
  });

  it("ranks restarting above a rising count, and a rising count above exit and health", () => {
    expect(classify(container({ status: "restarting", restartCount: 9 }), 1, now).reason).toBe(
      "restarting (exit code 0)",
    );
    expect(classify(container({ status: "exited", exitCode: 0, restartCount: 2 }), 1, now)).toMatchObject({
      condition: "crash-looping",
      reason: "restarted 1 time while watched",
    });
    expect(classify(container({ health: "healthy", restartCount: 2 }), 0, now).condition).toBe(
      "crash-looping",
    );
  });
});

describe("assess", () => {
  it("flags a restart count that rises between polls, remembering the first count", () => {
    const firstSeen = new Map<string, number>();
    const first = assess([container({ restartCount: 2 })], firstSeen, STARTED + 20_000);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ condition: "running", flagged: false, settled: true, restarts: 2 });
    expect([...firstSeen]).toEqual([["c-web", 2]]);

    const second = assess([container({ restartCount: 3 })], firstSeen, STARTED + 25_000);
    expect(second[0]).toMatchObject({
      condition: "crash-looping",
      flagged: true,
      restarts: 3,
      reason: "restarted 1 time while watched",
    });
    expect([...firstSeen]).toEqual([["c-web", 2]]);
  });

  it("ignores one-off containers and sorts by service", () => {
    const firstSeen = new Map<string, number>();
    const verdicts = assess(
      [
        container({ id: "3", service: "worker", name: "shop-worker-1" }),
        container({
          id: "1",
          service: "migrate",
          name: "shop-migrate-run-1",
          oneOff: true,
          status: "exited",
          exitCode: 1,
        }),
        container({ id: "2", service: "db", name: "shop-db-1", health: "healthy" }),
        container({ id: "4", service: "api", name: "shop-api-1", status: "exited", exitCode: 2 }),
      ],
      firstSeen,
      STARTED + 1_000,
    );
    expect(verdicts.map((v) => [v.service, v.condition, v.flagged, v.settled])).toEqual([
      ["api", "exited", true, true],
      ["db", "healthy", false, true],
      ["worker", "running", false, false],
    ]);
    expect([...firstSeen.keys()].sort()).toEqual(["2", "3", "4"]);
  });

  it("counts from 0 a container made just before it started, however late the first poll comes", () => {
    // The up being watched recreated it; it crashed and restarted before the watch's first look.
    const made = container({ restartCount: 1, createdAt: STARTED - 2_000 });
    expect(assess([made], new Map(), STARTED + 3_000)[0]).toMatchObject({
      condition: "crash-looping",
      flagged: true,
      reason: "restarted 1 time while watched",
    });
    // Made long before its current start: its restarts are history, not this deploy's.
    const old = container({ restartCount: 1, createdAt: STARTED - 86_400_000 });
    expect(assess([old], new Map(), STARTED + 3_000)[0]).toMatchObject({ flagged: false });
  });

  it("reads when docker created the container", () => {
    expect(parseInspect(JSON.stringify([{ Created: "2024-05-01T09:59:59.250Z" }]))[0]?.createdAt).toBe(Date.parse("2024-05-01T09:59:59.250Z"));
  });

  it("tracks containers by id: a new container of the same service starts fresh", () => {
    const firstSeen = new Map<string, number>();
    assess([container({ id: "old", restartCount: 0 })], firstSeen, STARTED + 20_000);
    const verdicts = assess([container({ id: "new", restartCount: 4 })], firstSeen, STARTED + 20_000);
    expect(verdicts[0]).toMatchObject({ condition: "running", flagged: false });
  });

  it("works on parsed docker inspect output", () => {
    const verdicts = assess(parseInspect(INSPECT), new Map(), Date.parse("2024-05-01T10:01:00Z"));
    expect(verdicts.map((v) => [v.service, v.condition, v.flagged])).toEqual([
      ["standalone", "crash-looping", true],
      ["web", "healthy", false],
    ]);
  });
});

describe("isErrorLine", () => {
  it.each([
    "Error: connect ECONNREFUSED 127.0.0.1:5432",
    "ERROR 1045 (28000): Access denied for user",
    'FATAL:  password authentication failed for user "app"',
    "panic: runtime error: index out of range",
    "Unhandled exception in thread main",
    "Migration failed",
    "permission denied",
    "connection refused",
    "Cannot find module 'express'",
    "Traceback (most recent call last):",
    "level=error msg=boom",
  ])("spots %j", (line) => {
    expect(isErrorLine(line)).toBe(true);
  });

  it.each(["Server listening on :3000", "GET /health 200 3ms", "0 errors, 0 warnings", ""])(
    "passes over %j",
    (line) => {
      expect(isErrorLine(line)).toBe(false);
    },
  );

  it.each([
    "ReferenceError: foo is not defined",
    "SyntaxError: Unexpected token '}'",
    "java.lang.NullPointerException",
    "ValueError: invalid literal for int() with base 10: 'x'",
  ])("spots compound error names such as %j", (line) => {
    expect(isErrorLine(line)).toBe(true);
  });
});
