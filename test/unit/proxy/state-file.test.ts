import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { build } from "esbuild";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  emptySavedState,
  readSavedState,
  type SavedState,
  type SavedUnit,
  StateWriter,
  temporaryPathOf,
  writeFileAtomically,
} from "../../../src/proxy/state-file.js";

let folder: string;
let path: string;
beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), "proxy-state-"));
  path = join(folder, "state.json");
});
afterEach(() => rm(folder, { recursive: true, force: true }));

const unit = (changes: Partial<SavedUnit> = {}): SavedUnit => ({
  lastActivityAt: 1_764_500_000_000,
  startsMs: [4200, 3900],
  memoryBytes: 180_000_000,
  state: "ready",
  since: 1_764_499_000_000,
  ...changes,
});
const stateWith = (units: Record<string, SavedUnit>): SavedState => ({ version: 1, units });

describe("readSavedState", () => {
  it("reads back what was saved", async () => {
    const state = stateWith({ shop: unit(), docs: unit({ lastActivityAt: null, startsMs: [], memoryBytes: null, state: "sleeping" }) });
    await new StateWriter(path).save(state);
    expect(await readSavedState(path)).toEqual({ state });
  });

  it("is empty with no warning when there is no file yet", async () => {
    expect(await readSavedState(path)).toEqual({ state: emptySavedState() });
  });

  it("is empty with a warning naming the file when it is corrupt or of another shape", async () => {
    const cases: [string, RegExp][] = [
      ['{"version": 1, "units": {"shop": {', /not JSON/],
      ["", /not JSON/],
      ["[1, 2]", /not a version 1 state file/],
      ['{"version": 2, "units": {}}', /not a version 1 state file/],
      ['{"version": 1, "units": []}', /units is not an object/],
      [JSON.stringify(stateWith({ shop: unit() })).replace('"ready"', '"asleep"'), /unit "shop": state "asleep" is not one of sleeping, starting/],
      [JSON.stringify({ version: 1, units: { shop: { ...unit(), startsMs: [1, "2"] } } }), /unit "shop": startsMs is not a list of durations/],
      [JSON.stringify({ version: 1, units: {}, containers: { "shared-db-1": [1, -2] } }), /container "shared-db-1": not a list of durations/],
      [JSON.stringify({ version: 1, units: {}, containers: [] }), /containers is not an object/],
      [JSON.stringify(stateWith({ shop: unit({ since: -1 }) })), /unit "shop": since is not a time/],
      [JSON.stringify({ version: 1, units: { shop: { ...unit(), lastActivityAt: undefined } } }), /unit "shop": lastActivityAt is not a time/],
    ];
    for (const [text, why] of cases) {
      await writeFile(path, text);
      const read = await readSavedState(path);
      expect(read.state).toEqual(emptySavedState());
      expect(read.warning).toMatch(why);
      expect(read.warning).toContain(`${path}: `);
      expect(read.warning).toMatch(/; starting with no saved state$/);
    }
  });

  it("reads back each container's start durations, the wake plans' estimates", async () => {
    const state = { ...stateWith({ shop: unit() }), containers: { "shared-db-1": [4000, 5200] } };
    await writeFile(path, JSON.stringify(state));
    expect(await readSavedState(path)).toEqual({ state });
  });

  it("reads back the container a blue-green switch made live, and refuses a pin of another shape", async () => {
    const state = stateWith({ shop: unit({ pin: { id: "a".repeat(64), port: 8080 } }), docs: unit() });
    await new StateWriter(path).save(state);
    expect(await readSavedState(path)).toEqual({ state });
    for (const pin of [{ id: "", port: 8080 }, { id: "abc", port: 0 }, { id: "abc", port: 8080.5 }, { id: 1, port: 80 }, "abc"]) {
      await writeFile(path, JSON.stringify({ version: 1, units: { shop: { ...unit(), pin } } }));
      expect((await readSavedState(path)).warning).toMatch(/unit "shop": pin is not a container id and a port/);
    }
  });

  it("keeps only the fields it knows", async () => {
    await writeFile(path, JSON.stringify({ version: 1, extra: true, units: { shop: { ...unit(), extra: 1 } } }));
    expect(await readSavedState(path)).toEqual({ state: stateWith({ shop: unit() }) });
  });

  it("warns instead of throwing when the file cannot be read", async () => {
    const read = await readSavedState(folder);
    expect(read.state).toEqual(emptySavedState());
    expect(read.warning).toMatch(/cannot be read \(EISDIR/);
  });
});

describe("writeFileAtomically", () => {
  it("never lets a torn temporary file replace the good one, and the next save goes through", async () => {
    const good = stateWith({ shop: unit() });
    await new StateWriter(path).save(good);
    // What a kill -9 in the middle of a write leaves behind.
    await writeFile(temporaryPathOf(path), '{"version": 1, "units": {"shop": {"lastAct');
    expect(await readSavedState(path)).toEqual({ state: good });

    const newer = stateWith({ shop: unit({ state: "sleeping" }) });
    await new StateWriter(path).save(newer);
    expect(await readSavedState(path)).toEqual({ state: newer });
    expect(await readdir(folder)).toEqual(["state.json"]);
  });

  it("leaves the last whole state on disk when the writing process is killed at any moment", async () => {
    // A real process saving large states in a loop, killed with SIGKILL at random moments.
    const bundle = join(folder, "state-file.mjs");
    await build({ entryPoints: [resolve("src/proxy/state-file.ts")], bundle: true, platform: "node", format: "esm", outfile: bundle, logLevel: "silent" });
    const saver = join(folder, "saver.mjs");
    await writeFile(
      saver,
      `import { StateWriter } from ${JSON.stringify(bundle)};
const writer = new StateWriter(process.argv[2]);
const units = {};
for (let i = 0; i < 4000; i++) units["unit-" + i] = { lastActivityAt: 1, startsMs: [1, 2, 3], memoryBytes: 1, state: "ready", since: 0 };
for (let round = 1; ; round++) {
  for (const u of Object.values(units)) u.since = round;
  await writer.save({ version: 1, units });
  process.stdout.write("saved " + round + "\\n");
}
`,
    );
    for (let kill = 0; kill < 6; kill++) {
      const child = spawn(process.execPath, [saver, path], { stdio: ["ignore", "pipe", "inherit"] });
      let saved = "";
      child.stdout.on("data", (chunk: Buffer) => (saved += chunk.toString()));
      await new Promise<void>((ready) => child.stdout.once("data", () => ready()));
      await sleep(5 + Math.random() * 60);
      const exited = new Promise((done) => child.once("exit", done));
      child.kill("SIGKILL");
      await exited;

      const read = await readSavedState(path);
      expect(read.warning).toBeUndefined();
      const rounds = new Set(Object.values(read.state.units).map((u) => u.since));
      expect(Object.keys(read.state.units)).toHaveLength(4000);
      expect(rounds.size).toBe(1);
      expect(saved).toContain("saved ");
    }
  });
});

describe("StateWriter", () => {
  it("ends 100 concurrent saves with the last state on disk", async () => {
    const writer = new StateWriter(path);
    const states = Array.from({ length: 100 }, (_, i) => stateWith({ shop: unit({ since: i }) }));
    await Promise.all(states.map((state) => writer.save(state)));
    expect(await readSavedState(path)).toEqual({ state: states[99] });
    expect(await readdir(folder)).toEqual(["state.json"]);
  });

  it("never writes twice at once, and coalesces the saves asked for during a write into one", async () => {
    let writing = 0;
    const written: string[] = [];
    const slowWrite = async (to: string, text: string) => {
      expect(writing).toBe(0);
      writing++;
      await sleep(20);
      await writeFileAtomically(to, text);
      written.push(text);
      writing--;
    };
    const writer = new StateWriter(path, slowWrite);
    const states = Array.from({ length: 100 }, (_, i) => stateWith({ shop: unit({ since: i }) }));
    await Promise.all(states.map((state) => writer.save(state)));
    expect(written.map((text) => (JSON.parse(text) as SavedState).units.shop?.since)).toEqual([0, 99]);

    // Once idle, a save is written at once.
    await writer.save(states[5] ?? emptySavedState());
    expect(written).toHaveLength(3);
    expect(await readFile(path, "utf8")).toBe(`${JSON.stringify(states[5])}\n`);
  });

  it("goes on saving after a failed write, and tells the saver it failed", async () => {
    let fail = true;
    const flaky = async (to: string, text: string) => {
      if (fail) throw new Error("disk full");
      await writeFileAtomically(to, text);
    };
    const writer = new StateWriter(path, flaky);
    const first = writer.save(stateWith({}));
    const second = writer.save(stateWith({ shop: unit() }));
    fail = false;
    await expect(first).rejects.toThrow("disk full");
    await second;
    expect(await readSavedState(path)).toEqual({ state: stateWith({ shop: unit() }) });
  });
});
