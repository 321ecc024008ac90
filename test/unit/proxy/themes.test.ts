import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { DaemonLog } from "../../../src/proxy/daemon-log.js";
import { BUILT_IN_THEMES, DEFAULT_THEME, MAX_THEME_BYTES, ThemeBook } from "../../../src/proxy/themes.js";

const scratch = mkdtempSync(join(tmpdir(), "deploy-vps-themes-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let count = 0;
function folder(files: Record<string, string> = {}): string {
  const dir = join(scratch, String(++count));
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Stand-ins for the shipped pages: each says which file it is. */
const shipped = folder({ "ghost.html": "built-in ghost", "matrix.html": "built-in matrix", "hacker-terminal.html": "built-in hacker-terminal", "live.js": "live script" });
const builtInFolder = pathToFileURL(`${shipped}/`);

function book(customFolder?: string, shippedFolder = builtInFolder) {
  const lines: { level: string; message: string; theme: string; reason: string }[] = [];
  const log = new DaemonLog(100, (line) => lines.push(JSON.parse(line) as (typeof lines)[number]));
  return { themes: new ThemeBook({ customFolder, log, builtInFolder: shippedFolder }), lines };
}

describe("ThemeBook: built-in themes", () => {
  it("names the five built-in themes, ghost the default", () => {
    expect(BUILT_IN_THEMES).toEqual(["ghost", "matrix", "shuffle", "hacker-terminal", "cyberpunk"]);
    expect(DEFAULT_THEME).toBe("ghost");
  });

  it("serves a built-in by its normalised name, the default without a name, and live.js", async () => {
    const { themes, lines } = book();
    expect(await themes.template("matrix")).toBe("built-in matrix");
    expect(await themes.template("hackerTerminal")).toBe("built-in hacker-terminal");
    expect(await themes.template("Hacker_Terminal")).toBe("built-in hacker-terminal");
    expect(await themes.template(undefined)).toBe("built-in ghost");
    expect(await themes.live()).toBe("live script");
    expect(lines).toEqual([]);
  });

  it("finds the pages beside the module by default (src/proxy/pages/ under vitest)", async () => {
    const lines: string[] = [];
    const page = await new ThemeBook({ log: new DaemonLog(100, (line) => lines.push(line)) }).template(undefined);
    const ghost = fileURLToPath(new URL("../../../src/proxy/pages/ghost.html", import.meta.url));
    // The shipped themes are written beside this work: either way, the book looked there.
    if (existsSync(ghost)) expect([page, lines]).toEqual([readFileSync(ghost, "utf8"), []]);
    else expect(lines.join("\n")).toContain(`"reason":"${ghost} is missing"`);
  });
});

describe("ThemeBook: custom themes", () => {
  it("reads NAME.html as written first, then the normalised name, then the built-in", async () => {
    const custom = folder({ "monTheme.html": "as written", "mon-theme.html": "normalised", "other-theme.html": "other normalised", "matrix.html": "my matrix" });
    const { themes, lines } = book(custom);
    expect(await themes.template("monTheme")).toBe("as written");
    expect(await themes.template("otherTheme")).toBe("other normalised");
    expect(await themes.template("matrix")).toBe("my matrix");
    expect(await themes.template("hackerTerminal")).toBe("built-in hacker-terminal");
    expect(lines).toEqual([]);
  });

  it("reads the file at every page: an edit shows at the next one", async () => {
    const custom = folder({ "mine.html": "first" });
    const { themes } = book(custom);
    expect(await themes.template("mine")).toBe("first");
    writeFileSync(join(custom, "mine.html"), "second");
    expect(await themes.template("mine")).toBe("second");
  });

  it("follows a config reload to another folder, or to none", async () => {
    const { themes } = book(folder({ "mine.html": "from a" }));
    themes.setCustomFolder(folder({ "mine.html": "from b" }));
    expect(await themes.template("mine")).toBe("from b");
    themes.setCustomFolder(undefined);
    expect(await themes.template("mine")).toBe("built-in ghost");
  });

  it("takes a file of exactly the limit, refuses one byte more", async () => {
    const custom = folder({ "big.html": "x".repeat(MAX_THEME_BYTES), "bigger.html": "x".repeat(MAX_THEME_BYTES + 1) });
    const { themes, lines } = book(custom);
    expect(await themes.template("big")).toHaveLength(MAX_THEME_BYTES);
    expect(await themes.template("bigger")).toBe("built-in ghost");
    expect(lines).toEqual([
      expect.objectContaining({ level: "warn", theme: "bigger", reason: `${join(custom, "bigger.html")} is larger than 256 KiB` }),
    ]);
  });
});

describe("ThemeBook: what falls back to the default, logged once", () => {
  it("an unknown name, with and without a themes folder", async () => {
    const custom = folder();
    const { themes, lines } = book(custom);
    expect(await themes.template("nowhere")).toBe("built-in ghost");
    expect(await book().themes.template("nowhere")).toBe("built-in ghost");
    expect(lines).toEqual([
      {
        time: expect.any(String),
        level: "warn",
        message: "waiting-page theme nowhere falls back to ghost",
        theme: "nowhere",
        reason: `no built-in theme has this name, and ${custom} has no nowhere.html`,
      },
    ]);
    const other = book();
    await other.themes.template("myTheme");
    expect(other.lines[0]?.reason).toBe("no built-in theme has this name, and the config names no themesFolder");
    const absent = book(join(custom, "absent"));
    await absent.themes.template("myTheme");
    expect(absent.lines[0]?.reason).toBe(`no built-in theme has this name, and the themes folder ${join(custom, "absent")} is not there`);
  });

  it("a name with path characters, never read", async () => {
    const custom = folder();
    writeFileSync(join(scratch, "secret.html"), "outside the folder");
    const { themes, lines } = book(custom);
    for (const name of ["../secret", "/etc/passwd", "..", "a/../../secret", "secret.html", ""]) {
      expect(await themes.template(name)).toBe("built-in ghost");
    }
    expect(lines.map((line) => line.reason)).toEqual(Array(6).fill("not a theme name (letters, digits, hyphens and underscores)"));
  });

  it("a theme that is a folder, a symlink loop or a pipe: refused without blocking", async () => {
    const custom = folder();
    mkdirSync(join(custom, "dir.html"));
    symlinkSync(join(custom, "loop.html"), join(custom, "loop.html"));
    execFileSync("mkfifo", [join(custom, "pipe.html")]);
    const { themes, lines } = book(custom);
    expect(await themes.template("dir")).toBe("built-in ghost");
    expect(await themes.template("loop")).toBe("built-in ghost");
    expect(await themes.template("pipe")).toBe("built-in ghost");
    expect(lines.map((line) => [line.theme, line.reason])).toEqual([
      ["dir", `${join(custom, "dir.html")} is not a file`],
      ["loop", `${join(custom, "loop.html")} cannot be read (ELOOP)`],
      ["pipe", `${join(custom, "pipe.html")} is not a file`],
    ]);
  });

  it("a broken custom copy of a built-in falls back to the default, not to the built-in", async () => {
    const custom = folder();
    mkdirSync(join(custom, "matrix.html"));
    const { themes } = book(custom);
    expect(await themes.template("matrix")).toBe("built-in ghost");
  });

  it("logs one line per name and reason, not one per request; again once fixed and broken again", async () => {
    const custom = folder();
    const { themes, lines } = book(custom);
    for (let i = 0; i < 5; i++) await Promise.all([themes.template("gone"), themes.template("gone"), themes.template("other")]);
    expect(lines.map((line) => line.theme)).toEqual(["gone", "other"]);

    mkdirSync(join(custom, "gone.html"));
    await themes.template("gone");
    await themes.template("gone");
    expect(lines.map((line) => line.reason).slice(2)).toEqual([`${join(custom, "gone.html")} is not a file`]);

    rmSync(join(custom, "gone.html"), { recursive: true });
    writeFileSync(join(custom, "gone.html"), "back");
    expect(await themes.template("gone")).toBe("back");
    unlinkSync(join(custom, "gone.html"));
    await themes.template("gone");
    expect(lines).toHaveLength(4);
    // A config reload logs the problems that remain afresh.
    themes.setCustomFolder(custom);
    await themes.template("other");
    expect(lines).toHaveLength(5);
  });

  it("a missing default (a broken install): a bare page that still has the placeholders, and a reloading script", async () => {
    const { themes, lines } = book(undefined, pathToFileURL(`${folder()}/`));
    const page = await themes.template("matrix");
    expect(page).toMatch(/^<!doctype html>/);
    for (const placeholder of ["serviceName", "message", "progress", "failure"]) expect(page).toContain(`{{ ${placeholder} }}`);
    expect(await themes.template(undefined)).toBe(page);
    expect(await themes.live()).toContain("location.reload()");
    expect(lines.map((line) => [line.level, line.theme])).toEqual([
      ["warn", "matrix"],
      ["error", "ghost"],
      ["error", "live.js"],
    ]);
  });
});
