import { describe, expect, it } from "vitest";
import { ContainerJobs } from "../../../src/proxy/container-jobs.js";

/** A piece of work that ends when the test says so, recording when it began. */
function gate(log: string[], name: string) {
  let open!: () => void;
  let fail!: (error: Error) => void;
  const ended = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return {
    work: () => {
      log.push(`${name} began`);
      return ended.then(() => void log.push(`${name} ended`));
    },
    open,
    fail,
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("starts and stops in flight, by container", () => {
  it("a second start of a container being started joins the first: started once, both resolve when it is", async () => {
    const jobs = new ContainerJobs();
    const log: string[] = [];
    const first = gate(log, "start 1");
    const second = gate(log, "start 2");
    const a = jobs.start("db", first.work);
    const b = jobs.start("db", second.work);
    expect(jobs.busy("db")).toBe("start");
    await tick();
    first.open();
    expect(await Promise.all([a, b])).toEqual([true, false]);
    expect(log).toEqual(["start 1 began", "start 1 ended"]);
    expect(jobs.busy("db")).toBeUndefined();
  });

  it("a joined start's failure is the joiner's too, and the next start is a new one", async () => {
    const jobs = new ContainerJobs();
    const log: string[] = [];
    const first = gate(log, "start 1");
    const a = jobs.start("db", first.work);
    const b = jobs.start("db", async () => void log.push("never"));
    first.fail(new Error("port is already allocated"));
    await expect(a).rejects.toThrow("port is already allocated");
    await expect(b).rejects.toThrow("port is already allocated");
    expect(await jobs.start("db", async () => void log.push("start 2"))).toBe(true);
    expect(log).toEqual(["start 1 began", "start 2"]);
  });

  it("a start of a container being stopped waits for the stop, then starts it again", async () => {
    const jobs = new ContainerJobs();
    const log: string[] = [];
    const stop = gate(log, "stop");
    const stopped = jobs.stop("db", stop.work);
    const started = jobs.start("db", async () => void log.push("start"));
    await tick();
    expect(log).toEqual(["stop began"]);
    expect(jobs.busy("db")).toBe("stop");
    stop.open();
    await stopped;
    expect(await started).toBe(true);
    expect(log).toEqual(["stop began", "stop ended", "start"]);
  });

  it("a failed stop does not keep a wake from starting it", async () => {
    const jobs = new ContainerJobs();
    const log: string[] = [];
    const stop = gate(log, "stop");
    const stopped = jobs.stop("db", stop.work);
    const started = jobs.start("db", async () => void log.push("start"));
    stop.fail(new Error("no such container"));
    await expect(stopped).rejects.toThrow("no such container");
    expect(await started).toBe(true);
    expect(log).toEqual(["stop began", "start"]);
  });

  it("two wakes waiting on one stop start the container once", async () => {
    const jobs = new ContainerJobs();
    const log: string[] = [];
    const stop = gate(log, "stop");
    void jobs.stop("db", stop.work);
    const start = gate(log, "start");
    const a = jobs.start("db", start.work);
    const b = jobs.start("db", async () => void log.push("second start"));
    stop.open();
    await new Promise((resolve) => setTimeout(resolve, 10));
    start.open();
    expect((await Promise.all([a, b])).sort()).toEqual([false, true]);
    expect(log).toEqual(["stop began", "stop ended", "start began", "start ended"]);
  });

  it("a stop waits for the start in flight, and a second stop joins the first", async () => {
    const jobs = new ContainerJobs();
    const log: string[] = [];
    const start = gate(log, "start");
    const stop = gate(log, "stop 1");
    void jobs.start("db", start.work);
    const first = jobs.stop("db", stop.work);
    await tick();
    expect(log).toEqual(["start began"]);
    start.open();
    await new Promise((resolve) => setTimeout(resolve, 10));
    const second = jobs.stop("db", async () => void log.push("stop 2"));
    stop.open();
    await Promise.all([first, second]);
    expect(log).toEqual(["start began", "start ended", "stop 1 began", "stop 1 ended"]);
  });

  it("different containers do not wait on each other", async () => {
    const jobs = new ContainerJobs();
    const log: string[] = [];
    const db = gate(log, "db");
    void jobs.start("db", db.work);
    expect(await jobs.start("cache", async () => void log.push("cache"))).toBe(true);
    expect(log).toEqual(["db began", "cache"]);
    db.open();
  });
});
