import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ARCHIVE_ROOT } from "../../../src/archive/root.js";
import { type ServerLayout, serverLayout } from "../../../src/release/layout.js";
import { DELTA_FILES, MANIFEST_FILE, type UploadPlan } from "../../../src/release/manifest.js";
import { BASE_GONE, UPLOADED, uploadScript } from "../../../src/release/upload.js";
import { sh } from "../../../src/ssh/quote.js";
import { runRemoteCommand } from "../remote/run.js";

const scratch = mkdtempSync(join(tmpdir(), "deploy-vps-upload-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let count = 0;

type Tree = Record<string, string>;

function write(root: string, tree: Tree): void {
  for (const [path, text] of Object.entries(tree)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

/** An archive as the client packs it: the files (and manifest or delta files) under ARCHIVE_ROOT, the .env beside. */
function archive(files: Tree): Buffer {
  const root = join(scratch, `archive${++count}`);
  write(join(root, ARCHIVE_ROOT), files);
  write(root, { env: "SECRET=1\n" });
  return execFileSync("tar", ["-czf", "-", "-C", root, ARCHIVE_ROOT, "env"]);
}

const sha = (text: string) => createHash("sha256").update(text).digest("hex");
const plan = (base?: string): UploadPlan => ({ base, send: [], deleted: [], unchanged: 0 });

function upload(layout: ServerLayout, stdin: Buffer, base?: string, hash?: string) {
  return runRemoteCommand(uploadScript(layout, plan(base), hash, sh`echo then`), { cwd: scratch, stdin });
}

describe("upload.sh", () => {
  it("stages a full upload and, for a missing app folder, a second copy to move in", () => {
    const layout = serverLayout(join(scratch, "first", "app"));
    const run = upload(layout, archive({ "a.txt": "a", "d/b.txt": "b", [MANIFEST_FILE]: "m\n" }));
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe(`${UPLOADED}\nthen\n`);
    expect(readdirSync(layout.stagedFiles).sort()).toEqual(["a.txt", "d"]);
    expect(readFileSync(layout.stagedManifest, "utf8")).toBe("m\n");
    expect(readFileSync(layout.stagedEnv, "utf8")).toBe("SECRET=1\n");
    expect(readdirSync(layout.freshApp).sort()).toEqual(["a.txt", "d"]);
    expect(readFileSync(join(layout.freshApp, "d/b.txt"), "utf8")).toBe("b");
    expect(existsSync(layout.app)).toBe(false);
  });

  it("stops, saying so, when the stream of a first upload is damaged (both copies are fed by one gzip)", () => {
    const layout = serverLayout(join(scratch, "damaged", "app"));
    const whole = archive({ "a.txt": "a".repeat(100_000), [MANIFEST_FILE]: "m\n" });
    const damaged = Buffer.concat([whole.subarray(0, 200), Buffer.alloc(400, 7), whole.subarray(600)]);
    const run = upload(layout, damaged);
    expect(run.code).not.toBe(0);
    expect(run.stdout).not.toContain(UPLOADED);
    // gzip's, tar's or the script's own words, whichever notices first.
    expect(run.stderr).toMatch(/damaged|unexpected end|Unexpected EOF|invalid|failure/);
    expect(existsSync(layout.app)).toBe(false);
  });

  it("makes no second copy when something is at the app path", () => {
    const layout = serverLayout(join(scratch, "byhand", "app"));
    mkdirSync(layout.app, { recursive: true });
    expect(upload(layout, archive({ "a.txt": "a", [MANIFEST_FILE]: "m\n" })).code).toBe(0);
    expect(existsSync(layout.freshApp)).toBe(false);
    expect(readdirSync(layout.app)).toEqual([]);
  });

  describe("an incremental upload", () => {
    /** An app whose live release r1 holds a.txt, b.txt and gone.txt, with its manifest. */
    function live(): ServerLayout {
      const layout = serverLayout(join(scratch, `redeploy${++count}`, "app"));
      write(join(layout.releases, "r1"), { "a.txt": "a1", "b.txt": "b", "gone.txt": "g" });
      write(layout.meta, { "r1.manifest": "a 1\nb 1\ngone 1\n" });
      return layout;
    }
    const delta = archive({
      "a.txt": "a2",
      [DELTA_FILES.remove]: "a 1\ngone 1\n",
      [DELTA_FILES.add]: "a 2\n",
      [DELTA_FILES.changed]: "./a.txt\0",
      [DELTA_FILES.deleted]: "./gone.txt\0",
    });
    const rebuilt = "a 2\nb 1\n";

    it("builds on the live release, rebuilds the manifest and keeps the change lists for the switch", () => {
      const layout = live();
      const run = upload(layout, delta, "r1", sha(rebuilt));
      expect(run.stderr).toBe("");
      expect(run.stdout).toBe(`${UPLOADED}\nthen\n`);
      expect(readdirSync(layout.stagedFiles).sort()).toEqual(["a.txt", "b.txt"]);
      expect(readFileSync(join(layout.stagedFiles, "a.txt"), "utf8")).toBe("a2");
      expect(readFileSync(layout.stagedManifest, "utf8")).toBe(rebuilt);
      expect(readFileSync(layout.stagedChanged, "utf8")).toBe("./a.txt\0");
      expect(readFileSync(layout.stagedDeleted, "utf8")).toBe("./gone.txt\0");
      // The live release is not touched (its files are hard-linked, the changed one replaced).
      expect(readFileSync(join(layout.releases, "r1", "a.txt"), "utf8")).toBe("a1");
    });

    it(`exits ${BASE_GONE} when the rebuilt manifest does not match, and goes no further`, () => {
      const run = upload(live(), delta, "r1", sha("something else\n"));
      expect(run.code).toBe(BASE_GONE);
      expect(run.stdout).toBe("");
    });

    it(`exits ${BASE_GONE} when the live release is gone`, () => {
      const layout = live();
      rmSync(join(layout.releases, "r1"), { recursive: true });
      expect(upload(layout, delta, "r1", sha(rebuilt)).code).toBe(BASE_GONE);
    });
  });
});
