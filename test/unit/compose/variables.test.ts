// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose interpolation is the test data
import { describe, expect, it } from "vitest";
import { interpolate, requiredVariables, variableUses } from "../../../src/compose/variables.js";

describe("variableUses", () => {
  it("finds every interpolation form with its line", () => {
    const text = [
      "services:",
      "  web:",
      "    image: ${REGISTRY:-ghcr.io/acme}/web:${TAG-latest}",
      "    environment:",
      "      A: $PLAIN",
      "      B: ${BRACED}",
      "      C: ${NEEDED:?set NEEDED in .env}",
      "      D: ${NEEDED2?missing}",
      "      E: ${ALT:+on}",
      "      F: ${ALT2+on}",
      "",
    ].join("\n");
    expect(variableUses(text)).toEqual([
      { name: "REGISTRY", hasDefault: true, line: 3 },
      { name: "TAG", hasDefault: true, line: 3 },
      { name: "PLAIN", hasDefault: false, line: 5 },
      { name: "BRACED", hasDefault: false, line: 6 },
      { name: "NEEDED", hasDefault: false, line: 7 },
      { name: "NEEDED2", hasDefault: false, line: 8 },
      { name: "ALT", hasDefault: true, line: 9 },
      { name: "ALT2", hasDefault: true, line: 10 },
    ]);
  });

  it("treats $$ as an escaped dollar", () => {
    const text = 'services:\n  a:\n    command: "echo $$HOME $${PATH} $$$REAL cost: 5$$"\n';
    expect(variableUses(text)).toEqual([{ name: "REAL", hasDefault: false, line: 3 }]);
  });

  it("finds variables nested in defaults", () => {
    const text = "x:\n  y: ${A:-${B}}\n  z: ${C:-pre-${D:-x}-post}${E}\n";
    expect(variableUses(text)).toEqual([
      { name: "A", hasDefault: true, line: 2 },
      { name: "B", hasDefault: false, line: 2 },
      { name: "C", hasDefault: true, line: 3 },
      { name: "D", hasDefault: true, line: 3 },
      { name: "E", hasDefault: false, line: 3 },
    ]);
  });

  it("ignores comments, keys and things that are not names", () => {
    const text = [
      "# put $SECRET in .env",
      "services:",
      "  $KEY:",
      "    image: nginx # ${TAG}",
      "    command: echo $1 $ {X} ${}",
      "    entrypoint: |",
      "      run",
      "      $IN_BLOCK",
      "",
    ].join("\n");
    expect(variableUses(text)).toEqual([{ name: "IN_BLOCK", hasDefault: false, line: 8 }]);
  });
});

describe("requiredVariables", () => {
  it("lists names used without a default anywhere, once, in first-seen order", () => {
    const base = "a: ${B_VAR}\nb: ${A_VAR:-x}\nc: ${C_VAR:?}\n";
    const override = "d: ${A_VAR}\ne: $B_VAR\nf: ${D_VAR:-${E_VAR}}\n";
    expect(requiredVariables([base, override])).toEqual(["B_VAR", "C_VAR", "A_VAR", "E_VAR"]);
  });

  it("is empty when everything has a default", () => {
    expect(requiredVariables(["a: ${X:-1}\nb: $$Y\n"])).toEqual([]);
  });
});

describe("interpolate", () => {
  const env = { SET: "value", EMPTY: "" };
  it("substitutes as compose does, nested defaults and $$ included", () => {
    expect(interpolate("${PROJECT_NAME:-shop}", env)).toBe("shop");
    expect(interpolate("$SET-${SET}-${EMPTY:-d}-${EMPTY-d}-${UNSET-d}", env)).toBe("value-value-d--d");
    expect(interpolate("${SET:+alt}|${EMPTY:+alt}|${EMPTY+alt}|${UNSET+alt}", env)).toBe("alt||alt|");
    expect(interpolate("${UNSET:-${SET}-x}/${UNSET:-${ALSO:-deep}}", env)).toBe("value-x/deep");
    expect(interpolate("$$SET costs $$5, $5", env)).toBe("$SET costs $5, $5");
  });

  it("a `?` form whose variable is missing throws its message", () => {
    expect(() => interpolate("${EMPTY:?say why}", env)).toThrow("required variable EMPTY is missing a value: say why");
    expect(interpolate("${EMPTY?say why}", env)).toBe("");
  });
});
