import { describe, expect, it } from "vitest";
import {
  AnswerShapeError,
  demultiplex,
  lastLines,
  parseContainers,
  parseCreated,
  parseDependsOn,
  parseEvent,
  parseExecState,
  parseInfo,
  parseInspect,
  parseMemory,
  parseVersion,
} from "../../../src/docker/responses.js";

const container = {
  Id: "4f2a",
  Names: ["/shop-web-1"],
  Image: "shop/web",
  State: "running",
  Status: "Up 2 minutes",
  Labels: { "com.docker.compose.project": "shop" },
  Created: 1_764_000_000,
};

describe("parseContainers", () => {
  it("keeps the fields the calls use, typed", () => {
    expect(parseContainers([container])).toEqual([
      { id: "4f2a", names: ["/shop-web-1"], state: "running", status: "Up 2 minutes", labels: { "com.docker.compose.project": "shop" }, created: 1_764_000_000 },
    ]);
  });

  it("reads Docker's null labels and names as empty", () => {
    const [parsed] = parseContainers([{ ...container, Labels: null, Names: null }]);
    expect(parsed?.labels).toEqual({});
    expect(parsed?.names).toEqual([]);
  });

  it.each([
    [{ not: "a list" }, "the answer is not a list"],
    [[null], "container [0] is not an object"],
    [[container, { ...container, Id: 7 }], "container [1].Id is not a string"],
    [[{ ...container, Created: "yesterday" }], "container [0].Created is not a number"],
    [[{ ...container, Names: ["/a", 3] }], "container [0].Names is not a list of strings"],
    [[{ ...container, Labels: ["a=b"] }], "container [0].Labels is not an object"],
    [[{ ...container, Labels: { a: 1 } }], 'container [0].Labels["a"] is not a string'],
    [[{ ...container, State: undefined }], "container [0].State is not a string"],
  ])("refuses %j, naming the field", (body, message) => {
    expect(() => parseContainers(body)).toThrow(new AnswerShapeError(message));
  });
});

describe("parseVersion and parseInfo", () => {
  it("read the server's version", () => {
    expect(parseVersion({ Version: "20.10.24", ApiVersion: "1.41", Os: "linux" })).toEqual({ version: "20.10.24", apiVersion: "1.41" });
    expect(parseInfo({ ServerVersion: "28.2.2", Containers: 3 })).toEqual({ serverVersion: "28.2.2" });
  });

  it("refuse another shape", () => {
    expect(() => parseVersion({ ApiVersion: "1.41" })).toThrow("the answer.Version is not a string");
    expect(() => parseInfo([])).toThrow("the answer is not an object");
    expect(() => parseInfo("OK")).toThrow("the answer is not an object");
  });
});

/** An inspect as Engine 20.10 answers it, cut to what is read (and a few fields that are not). */
const inspected = {
  Id: "4f2a",
  Name: "/shop-web-1",
  State: { Status: "running", ExitCode: 0, StartedAt: "2026-11-30T12:00:00.5Z", FinishedAt: "0001-01-01T00:00:00Z", Health: { Status: "starting", Log: [] } },
  Config: {
    Tty: false,
    StopTimeout: 3,
    Healthcheck: { Test: ["CMD-SHELL", "wget -q -O- localhost:8080/health"], Interval: 30_000_000_000 },
    Labels: {
      "com.docker.compose.project": "shop",
      "com.docker.compose.service": "web",
      "com.docker.compose.project.working_dir": "/home/deploy/apps/shop",
      "com.docker.compose.oneoff": "False",
      "com.docker.compose.depends_on": "db:service_healthy:false,migrate:service_completed_successfully:true,cache:service_started:false",
    },
  },
  NetworkSettings: { Networks: { shop_default: { IPAddress: "172.18.0.3" }, shop_back: { IPAddress: "" } } },
  HostConfig: { PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "18080" }], "53/udp": [{ HostIp: "", HostPort: "5353" }] } },
};

describe("parseInspect", () => {
  it("fills every fact, the TTY and the stop timeout", () => {
    expect(parseInspect(inspected)).toEqual({
      facts: {
        id: "4f2a",
        name: "shop-web-1",
        labels: inspected.Config.Labels,
        project: "shop",
        service: "web",
        workingDir: "/home/deploy/apps/shop",
        oneoff: false,
        state: "running",
        health: "starting",
        healthTest: ["CMD-SHELL", "wget -q -O- localhost:8080/health"],
        exitCode: 0,
        startedAt: "2026-11-30T12:00:00.5Z",
        finishedAt: "0001-01-01T00:00:00Z",
        addresses: { shop_default: "172.18.0.3" },
        dependsOn: [
          { service: "db", condition: "service_healthy" },
          { service: "migrate", condition: "service_completed_successfully" },
          { service: "cache", condition: "service_started" },
        ],
        published: [{ hostPort: 18080, containerPort: 8080 }],
      },
      tty: false,
      stopTimeoutSeconds: 3,
    });
  });

  it("reads a plain container (no compose labels, healthcheck, networks or stop timeout) and a one-off", () => {
    const plain = parseInspect({
      ...inspected,
      State: { ...inspected.State, Health: undefined },
      Config: { Tty: true, Labels: null, Healthcheck: null },
      NetworkSettings: { Networks: null },
    });
    expect(plain).toEqual({ facts: expect.objectContaining({ labels: {}, addresses: {}, dependsOn: [], oneoff: false }), tty: true });
    expect(plain.facts).not.toHaveProperty("project");
    expect(plain.facts).not.toHaveProperty("health");
    expect(plain.facts).not.toHaveProperty("healthTest");
    const oneoff = parseInspect({ ...inspected, Config: { ...inspected.Config, Labels: { "com.docker.compose.oneoff": "True" } } });
    expect(oneoff.facts.oneoff).toBe(true);
  });

  it("reads Compose v1's containers (no depends_on label) as having no dependencies", () => {
    const labels: Record<string, string> = { ...inspected.Config.Labels };
    delete labels["com.docker.compose.depends_on"];
    expect(parseInspect({ ...inspected, Config: { ...inspected.Config, Labels: labels } }).facts.dependsOn).toEqual([]);
  });

  it.each([
    [{ ...inspected, State: "running" }, "the container.State is not an object"],
    [{ ...inspected, Config: { ...inspected.Config, Labels: { a: 1 } } }, 'the container.Config.Labels["a"] is not a string'],
    [{ ...inspected, State: { ...inspected.State, ExitCode: "0" } }, "the container.State.ExitCode is not a number"],
    [{ ...inspected, Config: { ...inspected.Config, StopTimeout: "10s" } }, "the container.Config.StopTimeout is not a number"],
    [{ ...inspected, NetworkSettings: { Networks: { x: {} } } }, 'the container.NetworkSettings.Networks["x"].IPAddress is not a string'],
    [{ ...inspected, Config: { ...inspected.Config, Healthcheck: { Test: "true" } } }, "the container.Config.Healthcheck.Test is not a list of strings"],
  ])("refuses another shape, naming the field (%#)", (body, message) => {
    expect(() => parseInspect(body)).toThrow(new AnswerShapeError(message));
  });
});

describe("parseDependsOn", () => {
  it("reads entries with or without the restart flag, and empty ones as nothing", () => {
    expect(parseDependsOn("db:service_started,,api:service_healthy", "web")).toEqual([
      { service: "db", condition: "service_started" },
      { service: "api", condition: "service_healthy" },
    ]);
    expect(parseDependsOn(undefined, "web")).toEqual([]);
    expect(parseDependsOn("", "web")).toEqual([]);
  });

  it("refuses a condition Compose does not have, naming the container and the label", () => {
    expect(() => parseDependsOn("db:service_ready:false", "shop-web-1")).toThrow(
      new AnswerShapeError("shop-web-1 label com.docker.compose.depends_on has 'db:service_ready:false', not service:condition[:restart]"),
    );
    expect(() => parseDependsOn(":service_started", "w")).toThrow(AnswerShapeError);
  });
});

describe("parseMemory", () => {
  it("leaves out the page cache the kernel may drop, on cgroup v2, v1 and older engines", () => {
    expect(parseMemory({ memory_stats: { usage: 50_000_000, stats: { inactive_file: 8_000_000, file: 9_000_000 } } })).toBe(42_000_000);
    expect(parseMemory({ memory_stats: { usage: 50_000_000, stats: { total_inactive_file: 10_000_000, cache: 20_000_000 } } })).toBe(40_000_000);
    expect(parseMemory({ memory_stats: { usage: 50_000_000, stats: { cache: 20_000_000 } } })).toBe(30_000_000);
    expect(parseMemory({ memory_stats: { usage: 50_000_000 } })).toBe(50_000_000);
  });

  it("keeps the usage when the cache figure is larger (a racing read)", () => {
    expect(parseMemory({ memory_stats: { usage: 5, stats: { inactive_file: 9 } } })).toBe(5);
  });

  it("reads a container that is not running as no figure", () => {
    expect(parseMemory({ read: "0001-01-01T00:00:00Z", memory_stats: {} })).toBeUndefined();
    expect(parseMemory({ memory_stats: null })).toBeUndefined();
  });

  it("refuses another shape", () => {
    expect(() => parseMemory({ memory_stats: { usage: "5" } })).toThrow(new AnswerShapeError("the stats.memory_stats.usage is not a number"));
  });
});

/** One frame of a log without a TTY. */
function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe("demultiplex and lastLines", () => {
  it("takes the payloads of stdout and stderr frames in order", () => {
    const body = Buffer.concat([frame(1, "out-1\n"), frame(2, "err-1\n"), frame(1, ""), frame(1, "out-2\npart"), frame(2, "ial\n")]);
    expect(lastLines(Buffer.concat(demultiplex(body)).toString(), 10)).toEqual(["out-1", "err-1", "out-2", "partial"]);
  });

  it("refuses a frame cut short or of no known stream", () => {
    expect(() => demultiplex(frame(1, "hello").subarray(0, 10))).toThrow(new AnswerShapeError("the log frame at byte 0 is cut short"));
    expect(() => demultiplex(Buffer.concat([frame(1, "a"), Buffer.from([1, 0, 0])]))).toThrow("ends inside a frame header at byte 9");
    expect(() => demultiplex(frame(7, "a"))).toThrow("the log frame at byte 0 names stream 7");
  });

  it("keeps the last lines, without the empty one after the last newline, TTY carriage returns gone", () => {
    expect(lastLines("one\r\ntwo\r\nthree\r\n", 2)).toEqual(["two", "three"]);
    expect(lastLines("one\n\nthree", 5)).toEqual(["one", "", "three"]);
    expect(lastLines("", 5)).toEqual([]);
    expect(lastLines("one\n", 0)).toEqual([]);
  });
});

describe("parseEvent", () => {
  const event = (action: string, attributes: Record<string, string> = {}) => ({
    status: action,
    id: "4f2a",
    Type: "container",
    Action: action,
    Actor: { ID: "4f2a", Attributes: { "com.docker.compose.project": "shop", image: "local/busybox", name: "shop-web-1", ...attributes } },
    scope: "local",
    time: 1_764_500_000,
    // Nanoseconds past 2^53: the milliseconds are what counts.
    timeNano: 1_764_500_000_123 * 1e6 + 456_789,
  });

  it("splits Docker's 'health_status: healthy' into the action and the health", () => {
    expect(parseEvent(event("health_status: healthy"))).toEqual({
      id: "4f2a",
      action: "health_status",
      health: "healthy",
      time: 1_764_500_000_123,
      labels: { "com.docker.compose.project": "shop" },
      name: "shop-web-1",
    });
    expect(parseEvent(event("health_status: unhealthy")).health).toBe("unhealthy");
  });

  it("reads a die's exit code, and the time in seconds when there is no timeNano", () => {
    const die = { ...event("die", { exitCode: "137" }), timeNano: undefined };
    expect(parseEvent(die)).toMatchObject({ action: "die", exitCode: 137, time: 1_764_500_000_000 });
    expect(parseEvent(event("start"))).not.toHaveProperty("exitCode");
  });

  it("refuses another shape, naming the field", () => {
    expect(() => parseEvent({ ...event("start"), Actor: { Attributes: {} } })).toThrow(new AnswerShapeError("the event.Actor.ID is not a string"));
    expect(() => parseEvent({ ...event("start"), Action: 3 })).toThrow(new AnswerShapeError("the event.Action is not a string"));
  });
});

describe("parseExecState and parseCreated", () => {
  it("read an exec's state and a new exec's id", () => {
    expect(parseExecState({ Running: true, ExitCode: null, Pid: 7 })).toEqual({ running: true, exitCode: null });
    expect(parseExecState({ Running: false, ExitCode: 1 })).toEqual({ running: false, exitCode: 1 });
    expect(parseCreated({ Id: "e1" })).toBe("e1");
    expect(() => parseExecState({ Running: "no", ExitCode: 1 })).toThrow(new AnswerShapeError("the exec.Running is not true or false"));
  });
});
