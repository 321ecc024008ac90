import { describe, expect, it } from "vitest";
import { addressKey, InFlight } from "../../../src/proxy/drain.js";

describe("InFlight", () => {
  it("counts the exchanges per address, each ended once", () => {
    const inFlight = new InFlight();
    const endA = inFlight.begin("10.0.0.2:8080", () => undefined);
    inFlight.begin("10.0.0.2:8080", () => undefined);
    inFlight.begin("10.0.0.3:8080", () => undefined);
    expect(inFlight.count("10.0.0.2:8080")).toBe(2);
    endA();
    endA();
    expect(inFlight.count("10.0.0.2:8080")).toBe(1);
    expect(inFlight.count("10.0.0.3:8080")).toBe(1);
    expect(inFlight.count("10.0.0.9:8080")).toBe(0);
  });

  it("cuts what is left on one address only, once each, and says how many", () => {
    const inFlight = new InFlight();
    const cut: string[] = [];
    inFlight.begin("old:80", () => cut.push("request"));
    // Cutting ends the exchange; its own end, called later by its socket's close, does nothing.
    const endSocket = inFlight.begin("old:80", () => cut.push("websocket"));
    inFlight.begin("new:80", () => cut.push("new"));
    expect(inFlight.cut("old:80")).toBe(2);
    endSocket();
    expect(cut.sort()).toEqual(["request", "websocket"]);
    expect(inFlight.count("old:80")).toBe(0);
    expect(inFlight.count("new:80")).toBe(1);
    expect(inFlight.cut("old:80")).toBe(0);
  });

  it("tells when an address has nothing in flight", async () => {
    const inFlight = new InFlight();
    await inFlight.whenIdle("old:80");
    const end = inFlight.begin("old:80", () => undefined);
    let idle = false;
    const waiting = inFlight.whenIdle("old:80").then(() => (idle = true));
    await Promise.resolve();
    expect(idle).toBe(false);
    end();
    await waiting;
    expect(idle).toBe(true);
  });

  it("drains: exchanges that end in time are not cut", async () => {
    const inFlight = new InFlight();
    let cancelled = false;
    const end = inFlight.begin("old:80", () => (cancelled = true));
    setTimeout(end, 20);
    const drained = await inFlight.drain(["old:80"], 5_000);
    expect(drained.cut).toBe(0);
    expect(drained.ms).toBeLessThan(1_000);
    expect(cancelled).toBe(false);
  });

  it("drains: what is still open at the deadline is cut", async () => {
    const inFlight = new InFlight();
    let cancelled = 0;
    inFlight.begin("old:80", () => (cancelled += 1));
    inFlight.begin("older:80", () => (cancelled += 1));
    const ended = inFlight.begin("old:80", () => (cancelled += 100));
    ended();
    const drained = await inFlight.drain(["old:80", "older:80"], 50);
    expect(drained).toMatchObject({ cut: 2 });
    expect(drained.ms).toBeGreaterThanOrEqual(45);
    expect(cancelled).toBe(2);
  });

  it("names an upstream as host:port", () => {
    expect(addressKey({ host: "172.18.0.4", port: 8080 })).toBe("172.18.0.4:8080");
  });
});
