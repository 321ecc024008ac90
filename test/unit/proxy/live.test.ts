import { describe, expect, it } from "vitest";
import { chooseLive, oldestRunning, type Pin, pinKept } from "../../../src/proxy/live.js";
import type { ContainerFacts } from "../../../src/proxy/model.js";
import { containerFacts } from "./facts.js";

const web = (n: number, startedAt: string, state = "running") => containerFacts({ id: `web${n}`, name: `shop-web-${n}`, state, startedAt });
const first = web(1, "2026-11-30T10:00:00.100Z");
const scaled = web(2, "2026-11-30T10:05:00.000Z");
const standby = containerFacts({ id: "standby", name: "shop-standby-1", service: "standby", state: "running", startedAt: "2026-11-30T10:06:00Z" });
const known = (...containers: ContainerFacts[]) => (id: string) => containers.find((c) => c.id === id);

describe("chooseLive", () => {
  it("without a pin, forwards to the oldest running container: the second one made by --scale gets nothing before the switch", () => {
    expect(chooseLive([scaled, first], undefined, known(first, scaled))).toEqual({ container: first });
    expect(chooseLive([first, scaled], undefined, known(first, scaled))).toEqual({ container: first });
  });

  it("forwards to the pinned container and its port, even when it is younger or of another service", () => {
    const toScaled: Pin = { id: "web2", port: 8080 };
    expect(chooseLive([first, scaled], toScaled, known(first, scaled))).toEqual({ container: scaled, pin: toScaled });
    const toStandby: Pin = { id: "standby", port: 1338 };
    expect(chooseLive([first], toStandby, known(first, standby))).toEqual({ container: standby, pin: toStandby });
  });

  it("falls back to the oldest running one while the pinned container does not run or is unknown", () => {
    const stopped = { ...standby, state: "exited" };
    expect(chooseLive([first], { id: "standby", port: 1338 }, known(first, stopped))).toEqual({ container: first });
    expect(chooseLive([first], { id: "gone", port: 8080 }, known(first))).toEqual({ container: first });
  });

  it("has no live container when none runs", () => {
    expect(chooseLive([web(1, "2026-11-30T10:00:00Z", "exited")], undefined, known())).toBeUndefined();
    expect(chooseLive([], { id: "standby", port: 1338 }, known({ ...standby, state: "exited" }))).toBeUndefined();
  });
});

describe("oldestRunning", () => {
  it("compares start times, not their text, and breaks ties by name", () => {
    const early = web(3, "2026-11-30T10:00:00Z");
    const later = web(4, "2026-11-30T10:00:00.5Z");
    expect(oldestRunning([later, early])?.name).toBe("shop-web-3");
    const twin = web(5, "2026-11-30T10:00:00Z");
    expect(oldestRunning([twin, early])?.name).toBe("shop-web-3");
    expect(oldestRunning([web(6, "2026-01-01T00:00:00Z", "exited"), later])?.name).toBe("shop-web-4");
  });
});

describe("pinKept", () => {
  it("keeps a pin while its container exists, stopped or not, and forgets it once the container is destroyed", () => {
    const pin: Pin = { id: "web2", port: 8080 };
    expect(pinKept(pin, (id) => id === "web2")).toBe(pin);
    expect(pinKept(pin, () => false)).toBeUndefined();
    expect(pinKept(undefined, () => true)).toBeUndefined();
  });
});
