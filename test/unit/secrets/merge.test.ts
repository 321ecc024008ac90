import { describe, expect, it } from "vitest";
import { parseEnvFile } from "../../../src/secrets/env-file.js";
import { envValues } from "./values.js";
import { type EnvMergeInput, mergeEnv, missingVariables } from "../../../src/secrets/merge.js";

const TEMPLATE = [
  "# App settings",
  "APP_NAME=demo",
  "LOG_LEVEL=info",
  "",
  "# Database",
  "POSTGRES_USER=app",
  "POSTGRES_PASSWORD=",
  "# @secret",
  "SESSION_COOKIE=",
  "SMTP_HOST=",
  `DATABASE_URL=postgres://app:\${POSTGRES_PASSWORD}@db/app`,
  "",
].join("\n");

const template = (text = TEMPLATE) => parseEnvFile(".env.example", text, true);
const server = (text: string) => parseEnvFile("server .env", text, false);

/** A generator yielding gen1, gen2, ... so every generated value is visible in the text. */
function counter(prefix = "gen") {
  let n = 0;
  return () => `${prefix}${++n}`;
}

/** Merge, and check the result reads back as its own `values` in the same order. */
function merge(input: Partial<EnvMergeInput> & Pick<EnvMergeInput, "template">) {
  const result = mergeEnv({ provided: new Map(), generate: counter(), ...input });
  expect([...envValues(parseEnvFile("out", result.text, true))]).toEqual([...result.values]);
  return result;
}

const FIRST_DEPLOY = [
  "# App settings",
  "APP_NAME=demo",
  "LOG_LEVEL=info",
  "",
  "# Database",
  "POSTGRES_USER=app",
  "POSTGRES_PASSWORD=gen1",
  "# @secret",
  "SESSION_COOKIE=gen2",
  "SMTP_HOST=",
  `DATABASE_URL=postgres://app:\${POSTGRES_PASSWORD}@db/app`,
  "",
].join("\n");

describe("mergeEnv", () => {
  it("first deploy generates empty secret-likes and keeps template values and comments", () => {
    const r = merge({ template: template() });
    expect(r.text).toBe(FIRST_DEPLOY);
    expect(r.generated).toEqual(["POSTGRES_PASSWORD", "SESSION_COOKIE"]);
    expect(r.fromTemplate).toEqual(["APP_NAME", "LOG_LEVEL", "POSTGRES_USER", "SMTP_HOST", "DATABASE_URL"]);
    expect(r.kept).toEqual([]);
    expect(r.provided).toEqual([]);
    expect(r.serverOnly).toEqual([]);
    expect(r.values.get("POSTGRES_PASSWORD")).toBe("gen1");
  });

  it("second deploy keeps everything byte for byte and generates nothing", () => {
    const first = merge({ template: template() });
    const second = merge({
      template: template(),
      server: server(first.text),
      generate: counter("NEW"),
    });
    expect(second.text).toBe(first.text);
    expect(second.generated).toEqual([]);
    expect(second.kept).toEqual([
      "APP_NAME",
      "LOG_LEVEL",
      "POSTGRES_USER",
      "POSTGRES_PASSWORD",
      "SESSION_COOKIE",
      "DATABASE_URL",
    ]);
    expect(second.fromTemplate).toEqual(["SMTP_HOST"]);
  });

  it("keeps the server's raw lines rather than re-serialising them", () => {
    const srv = [
      'export LOG_LEVEL="debug"   # set by hand',
      "POSTGRES_PASSWORD='p@ss $word'",
      'SESSION_COOKIE="multi',
      'line"',
    ].join("\n");
    const r = merge({ template: template(), server: server(srv), generate: counter("NEW") });
    expect(r.text).toContain('\nexport LOG_LEVEL="debug"   # set by hand\n');
    expect(r.text).toContain("\nPOSTGRES_PASSWORD='p@ss $word'\n");
    expect(r.text).toContain('\n# @secret\nSESSION_COOKIE="multi\nline"\nSMTP_HOST=\n');
    expect(r.values.get("POSTGRES_PASSWORD")).toBe("p@ss $word");
    expect(r.values.get("SESSION_COOKIE")).toBe("multi\nline");
    expect(r.generated).toEqual([]);
    expect(r.kept).toEqual(["LOG_LEVEL", "POSTGRES_PASSWORD", "SESSION_COOKIE"]);
  });

  it("provided beats the template but never a non-empty server value, and adds no other keys", () => {
    const r = merge({
      template: template(),
      server: server("APP_NAME=prod\n"),
      provided: new Map([
        ["APP_NAME", "from-shell"],
        ["LOG_LEVEL", "warn now"],
        ["POSTGRES_PASSWORD", "shellpass"],
        ["SMTP_HOST", ""],
        ["HOME", "/home/me"],
      ]),
    });
    expect(r.text).toContain("\nAPP_NAME=prod\nLOG_LEVEL='warn now'\n");
    expect(r.text).toContain("\nPOSTGRES_PASSWORD=shellpass\n");
    expect(r.text).not.toContain("HOME");
    expect(r.values.has("HOME")).toBe(false);
    expect(r.kept).toEqual(["APP_NAME"]);
    expect(r.provided).toEqual(["LOG_LEVEL", "POSTGRES_PASSWORD"]);
    expect(r.generated).toEqual(["SESSION_COOKIE"]);
    expect(r.values.get("SMTP_HOST")).toBe("");
  });

  it("treats an empty server value as not set: secrets get generated", () => {
    const r = merge({
      template: template(),
      server: server('POSTGRES_PASSWORD=\nSESSION_COOKIE=""\nAPP_NAME=\n'),
    });
    expect(r.generated).toEqual(["POSTGRES_PASSWORD", "SESSION_COOKIE"]);
    expect(r.values.get("POSTGRES_PASSWORD")).toBe("gen1");
    expect(r.values.get("SESSION_COOKIE")).toBe("gen2");
    expect(r.values.get("APP_NAME")).toBe("demo");
    expect(r.kept).toEqual([]);
  });

  it("keeps server-only keys at the end and drops server comments and junk", () => {
    const srv = [
      "# server note",
      "OLD_FLAG=on",
      "POSTGRES_PASSWORD=kept",
      "garbage line",
      "MANUAL_TOKEN='x y'",
      "EMPTY_ONE=",
    ].join("\n");
    const r = merge({ template: template(), server: server(srv) });
    expect(r.text).toBe(
      `${FIRST_DEPLOY.replace("gen1", "kept").replace("gen2", "gen1")}\n` +
        "# Kept from the server's previous .env (not in the template)\n" +
        "OLD_FLAG=on\nMANUAL_TOKEN='x y'\nEMPTY_ONE=\n",
    );
    expect(r.serverOnly).toEqual(["OLD_FLAG", "MANUAL_TOKEN", "EMPTY_ONE"]);
    expect(r.text).not.toContain("garbage");
    expect(r.text).not.toContain("server note");

    // And that output is itself stable.
    const again = merge({ template: template(), server: server(r.text), generate: counter("NEW") });
    expect(again.text).toBe(r.text);
    expect(again.generated).toEqual([]);
  });

  it("emits a duplicated template key once, where it first appears, with the last value", () => {
    const r = merge({ template: template("A=1\n# about B\nB=2\nA=3\n\n\n") });
    expect(r.text).toBe("A=3\n# about B\nB=2\n");
    expect(r.fromTemplate).toEqual(["A", "B"]);
  });

  it("ends with exactly one newline", () => {
    expect(merge({ template: template("A=1") }).text).toBe("A=1\n");
    expect(merge({ template: template("A=1\n\n\n") }).text).toBe("A=1\n");
  });

  it("generates for empty keys marked @secret in their own comment", () => {
    const r = merge({ template: template("WEBHOOK= # @secret\nNOTE=\n") });
    expect(r.text).toBe("WEBHOOK=gen1\nNOTE=\n");
    expect(r.generated).toEqual(["WEBHOOK"]);
  });

  it("does not replace a non-empty template default on a secret-like key", () => {
    const r = merge({ template: template("JWT_SECRET=changeme\n") });
    expect(r.generated).toEqual([]);
    expect(r.text).toBe("JWT_SECRET=changeme\n");
  });
});

describe("missingVariables", () => {
  it("lists names missing or empty, in order", () => {
    const values = new Map([
      ["A", "1"],
      ["B", ""],
      ["D", "x"],
    ]);
    expect(missingVariables(["D", "C", "B", "A"], values)).toEqual(["C", "B"]);
    expect(missingVariables([], values)).toEqual([]);
  });
});
