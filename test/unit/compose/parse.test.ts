import { describe, expect, it } from "vitest";
import { decodeComposeText, MAX_ALIAS_EXPANSIONS, MAX_COMPOSE_BYTES, parseCompose } from "../../../src/compose/parse.js";
import { InputError } from "../../../src/errors.js";

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error("expected an InputError");
}

describe("parseCompose", () => {
  it("refuses an alias bomb in one line", () => {
    const levels = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(", ")}]`);
    }
    expect(messageOf(() => parseCompose("c.yml", `${levels.join("\n")}\nservices: {}\n`))).toBe(
      `c.yml:1:1: YAML aliases expand to more than ${MAX_ALIAS_EXPANSIONS} copies (an alias bomb?); refused`,
    );
  });

  it("takes one anchor shared by hundreds of services", () => {
    const services = Array.from({ length: 500 }, (_, i) => `  s${i}:\n    <<: *base\n`).join("");
    const parsed = parseCompose("c.yml", `x-base: &base\n  image: nginx\nservices:\n${services}`);
    expect(Object.keys((parsed.documents[0]?.value as { services: object }).services)).toHaveLength(500);
  });

  it("refuses a text over the size limit, and a character YAML does not allow, at its position", () => {
    expect(messageOf(() => parseCompose("c.yml", `# ${"x".repeat(MAX_COMPOSE_BYTES)}\n`))).toBe(
      `c.yml:1:1: ${MAX_COMPOSE_BYTES + 3} bytes, over the limit of ${MAX_COMPOSE_BYTES} (4 MB) for a compose file`,
    );
    expect(messageOf(() => parseCompose("c.yml", "services:\n  wéb:\0\n"))).toBe(
      "c.yml:2:7: character U+0000 is not allowed in YAML",
    );
    expect(messageOf(() => parseCompose("c.yml", "services:\n  web:\n    image: a\u007f\n"))).toBe(
      "c.yml:3:13: character U+007F is not allowed in YAML",
    );
  });

  it("finds a repeated key in one pass, in any mapping; the same key in sibling mappings is fine", () => {
    const ok = "x-a: &a {image: x}\nx-b: &b {restart: always}\nservices:\n  a: {image: x}\n  b:\n    <<: *a\n    <<: *b\n";
    expect(parseCompose("c.yml", ok).documents).toHaveLength(1);
    expect(messageOf(() => parseCompose("c.yml", "services:\n  a:\n    environment:\n      A: 1\n      B: 2\n      A: 3\n"))).toBe(
      "c.yml:6:7: Map keys must be unique",
    );
  });

  it("reads every document; an empty one beside others is refused as compose does", () => {
    expect(parseCompose("c.yml", "services: {a: {image: x}}\n---\nvolumes: {}\n").documents).toHaveLength(2);
    expect(messageOf(() => parseCompose("c.yml", "services: {a: {image: x}}\n---\n# nothing\n"))).toBe(
      "c.yml:2:1: an empty YAML document: each document of a compose file must be a mapping",
    );
  });
});

describe("decodeComposeText", () => {
  it("passes UTF-8 through, a BOM and U+FFFD included", () => {
    const text = "\ufeffservices: # caf\u00e9 \ufffd\n";
    expect(decodeComposeText("c.yml", Buffer.from(text))).toBe(text);
  });

  it("names the line and column of the first byte that is not UTF-8", () => {
    const bytes = Buffer.concat([Buffer.from("services:\n  web:\n    image: café"), Buffer.from([0xff, 0x41, 0x0a])]);
    expect(messageOf(() => decodeComposeText("c.yml", bytes))).toBe(
      "c.yml:3:16: not valid UTF-8 (compose files must be UTF-8)",
    );
  });
});
