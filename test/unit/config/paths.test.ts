import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { readOptional, readOptionalBytes } from "../../../src/config/paths.js";
import { InputError } from "../../../src/errors.js";

// The tests run as root, whom file modes do not stop: a permission error is made up for one file name.
vi.mock("node:fs/promises", async (original) => {
  const fs = await original<typeof import("node:fs/promises")>();
  return {
    ...fs,
    open: (path: string, ...rest: []) =>
      path.endsWith("locked.yaml")
        ? Promise.reject(Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: "EACCES" }))
        : fs.open(path, ...rest),
  };
});

describe("readOptionalBytes", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "paths-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads a file, and gives undefined for none", async () => {
    await writeFile(join(dir, "a"), "text");
    expect(await readOptional(join(dir, "a"))).toBe("text");
    expect(await readOptionalBytes(join(dir, "missing"))).toBeUndefined();
  });

  it("says in one line, naming the file, why one that is there cannot be read", async () => {
    await mkdir(join(dir, "compose.yaml"));
    await expect(readOptionalBytes(join(dir, "compose.yaml"), { label: "compose.yaml" })).rejects.toThrow(
      new InputError("cannot read compose.yaml: it is a folder, not a file"),
    );
    await expect(readOptionalBytes(join(dir, "locked.yaml"), { label: "locked.yaml" })).rejects.toThrow(
      new InputError("cannot read locked.yaml: permission denied"),
    );
  });

  it("refuses a file over the limit before reading it", async () => {
    await writeFile(join(dir, "big"), "12345");
    const limit = { bytes: 4, reason: (size: number) => `${size} bytes is too many` };
    await expect(readOptionalBytes(join(dir, "big"), { limit })).rejects.toThrow(
      new InputError(`${join(dir, "big")}: 5 bytes is too many`),
    );
  });
});
