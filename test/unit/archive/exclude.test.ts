import { describe, expect, it } from "vitest";
import {
  ALWAYS_SKIPPED_ANYWHERE,
  ALWAYS_SKIPPED_AT_ROOT,
  excludeRule,
  parseIgnoreFile,
} from "../../../src/archive/exclude.js";

const rule = (patterns: string[] = [], envTemplate = ".env.example") =>
  excludeRule({ patterns, envTemplate });

describe("excludeRule: built-in folders", () => {
  it("lists the folders it always skips", () => {
    expect(ALWAYS_SKIPPED_ANYWHERE).toEqual([
      "node_modules",
      ".git",
      ".next",
      ".nuxt",
      ".turbo",
      ".cache",
      "coverage",
    ]);
    expect(ALWAYS_SKIPPED_AT_ROOT).toEqual(["dist", "build"]);
  });

  it.each(["node_modules", ".git", ".next", ".nuxt", ".turbo", ".cache", "coverage"])(
    "skips the folder %s at any depth",
    (name) => {
      const isExcluded = rule();
      expect(isExcluded(name, true)).toBe(true);
      expect(isExcluded(`apps/web/${name}`, true)).toBe(true);
      expect(isExcluded(`packages/a/b/${name}`, true)).toBe(true);
      // Only folders: a file of that name is shipped.
      expect(isExcluded(name, false)).toBe(false);
      expect(isExcluded(`apps/${name}`, false)).toBe(false);
      // Neither a prefix nor a suffix of the name.
      expect(isExcluded(`${name}2`, true)).toBe(false);
      expect(isExcluded(`my${name}`, true)).toBe(false);
    },
  );

  it.each(["dist", "build"])("skips the folder %s at the root only", (name) => {
    const isExcluded = rule();
    expect(isExcluded(name, true)).toBe(true);
    expect(isExcluded(`src/${name}`, true)).toBe(false);
    expect(isExcluded(`apps/web/${name}`, true)).toBe(false);
    expect(isExcluded(`src/${name}/index.ts`, false)).toBe(false);
    expect(isExcluded(name, false)).toBe(false);
  });

  it("ships ordinary files and folders", () => {
    const isExcluded = rule();
    expect(isExcluded("compose.yaml", false)).toBe(false);
    expect(isExcluded("src", true)).toBe(false);
    expect(isExcluded("src/index.ts", false)).toBe(false);
    expect(isExcluded(".github", true)).toBe(false);
    expect(isExcluded(".gitignore", false)).toBe(false);
    expect(isExcluded(".dockerignore", false)).toBe(false);
  });
});

describe("excludeRule: local env files", () => {
  it.each([".env", ".env.local", ".env.production", "apps/web/.env.production", ".env.deploy", "a/b/.env"])(
    "never ships %s",
    (path) => {
      expect(rule()(path, false)).toBe(true);
      expect(rule(["!.env", "!.env.*", `!${path}`, "!*"])(path, false)).toBe(true);
    },
  );

  it.each([".ENV", ".Env", ".ENV.local", "apps/web/.Env.Production", ".ENV.DEPLOY"])(
    "never ships %s: env files are matched whatever their case",
    (path) => {
      expect(rule()(path, false)).toBe(true);
      expect(rule(["!*"])(path, false)).toBe(true);
    },
  );

  it("ships the template, and only at its own path", () => {
    const isExcluded = rule();
    expect(isExcluded(".env.example", false)).toBe(false);
    expect(isExcluded("apps/web/.env.example", false)).toBe(true);
  });

  it("ships the template even when a pattern excludes it", () => {
    expect(rule(["*.example", ".env*"])(".env.example", false)).toBe(false);
  });

  it("follows a different template path", () => {
    const nested = rule([], "deploy/.env.template");
    expect(nested("deploy/.env.template", false)).toBe(false);
    expect(nested(".env.example", false)).toBe(true);
    expect(nested(".env.template", false)).toBe(true);
    expect(nested(".env", false)).toBe(true);
  });

  it("recognises the template when its path is written ./.env.example (as --env-template may give it)", () => {
    expect(rule([], "./.env.example")(".env.example", false)).toBe(false);
    expect(rule([], "./deploy/.env.template")("deploy/.env.template", false)).toBe(false);
  });

  it("a template not named .env* is shipped like any file", () => {
    const plain = rule([], "config/env.sample");
    expect(plain("config/env.sample", false)).toBe(false);
    expect(plain(".env.example", false)).toBe(true);
  });

  it("does not treat look-alikes as env files", () => {
    const isExcluded = rule();
    expect(isExcluded(".envrc", false)).toBe(false);
    expect(isExcluded("env", false)).toBe(false);
    expect(isExcluded("prod.env", false)).toBe(false);
    expect(isExcluded("src/.environment.ts", false)).toBe(false);
    // A folder named .env (a Python virtualenv, say) goes through the patterns.
    expect(isExcluded(".env", true)).toBe(false);
  });
});

describe("excludeRule: user patterns", () => {
  it("excludes a folder pattern at any depth", () => {
    const isExcluded = rule(["infrastructure/repos"]);
    expect(isExcluded("infrastructure/repos", true)).toBe(true);
    expect(isExcluded("infrastructure/repos/x.git", false)).toBe(true);
    expect(isExcluded("infrastructure", true)).toBe(false);
    expect(isExcluded("infrastructure/other", true)).toBe(false);
  });

  it("excludes globs like *.log at any depth", () => {
    const isExcluded = rule(["*.log"]);
    expect(isExcluded("app.log", false)).toBe(true);
    expect(isExcluded("var/log/app.log", false)).toBe(true);
    expect(isExcluded("app.log.txt", false)).toBe(false);
    expect(isExcluded("catalog", false)).toBe(false);
  });

  it("anchors /path/ patterns to the root and to folders", () => {
    const isExcluded = rule(["/scripts/migration/data/"]);
    expect(isExcluded("scripts/migration/data", true)).toBe(true);
    expect(isExcluded("scripts/migration/data/dump.sql", false)).toBe(true);
    expect(isExcluded("apps/scripts/migration/data", true)).toBe(false);
    // A trailing slash matches folders only.
    expect(isExcluded("scripts/migration/data", false)).toBe(false);
    expect(isExcluded("scripts/migration", true)).toBe(false);
  });

  it("honours negations after a broader pattern", () => {
    const isExcluded = rule(["*.log", "!keep.log"]);
    expect(isExcluded("debug.log", false)).toBe(true);
    expect(isExcluded("keep.log", false)).toBe(false);
    expect(isExcluded("sub/keep.log", false)).toBe(false);
  });

  it("cannot bring back a built-in folder's files by negation of a file inside it", () => {
    const isExcluded = rule(["!node_modules/keep.js"]);
    expect(isExcluded("node_modules", true)).toBe(true);
  });

  it("can re-include a root build folder with a negation", () => {
    const isExcluded = rule(["!/build/"]);
    expect(isExcluded("build", true)).toBe(false);
  });
});

describe("parseIgnoreFile", () => {
  it("drops blank lines and comments, trims line ends, handles CRLF", () => {
    const text =
      "# deploy ignore\r\n\r\n*.log   \r\n/scripts/migration/data/\n  \n!keep.log\n#not this\n  indented\n";
    expect(parseIgnoreFile(text)).toEqual(["*.log", "/scripts/migration/data/", "!keep.log", "  indented"]);
  });

  it("gives nothing for an empty file", () => {
    expect(parseIgnoreFile("")).toEqual([]);
    expect(parseIgnoreFile("\n\n# only comments\n")).toEqual([]);
  });

  it("feeds excludeRule", () => {
    const isExcluded = rule(parseIgnoreFile("infrastructure/repos\n*.log\n!keep.log\n"));
    expect(isExcluded("infrastructure/repos", true)).toBe(true);
    expect(isExcluded("a.log", false)).toBe(true);
    expect(isExcluded("keep.log", false)).toBe(false);
    expect(isExcluded("src/main.ts", false)).toBe(false);
  });
});
