import { describe, expect, it } from "vitest";
import { interpolations, variableUses } from "../../../src/compose/variables.js";
import { composeVariables } from "../../../src/init/interpolation.js";

const lines = (...l: string[]) => `${l.join("\n")}\n`;

describe("interpolations", () => {
  it("gives each form its operator and argument", () => {
    expect(
      interpolations("$PLAIN ${BRACED} ${A:-d} ${B-d} ${C:?say} ${D?say} ${E:+on} ${F+on} ${G:-}"),
    ).toEqual([
      { name: "PLAIN", operator: "", argument: "", at: 0 },
      { name: "BRACED", operator: "", argument: "", at: 7 },
      { name: "A", operator: ":-", argument: "d", at: 17 },
      { name: "B", operator: "-", argument: "d", at: 25 },
      { name: "C", operator: ":?", argument: "say", at: 32 },
      { name: "D", operator: "?", argument: "say", at: 42 },
      { name: "E", operator: ":+", argument: "on", at: 51 },
      { name: "F", operator: "+", argument: "on", at: 60 },
      { name: "G", operator: ":-", argument: "", at: 68 },
    ]);
  });

  it("keeps a nested default as written and reports the nested variable after it", () => {
    expect(interpolations("${LEVEL:-${DEFAULT:-info}}-x")).toEqual([
      { name: "LEVEL", operator: ":-", argument: "${DEFAULT:-info}", at: 0 },
      { name: "DEFAULT", operator: ":-", argument: "info", at: 9 },
    ]);
  });

  it("skips $$ and stray dollars, and runs an unclosed argument to the end", () => {
    expect(interpolations("$$HOME $ 1$ ${A:-x $$y")).toEqual([{ name: "A", operator: ":-", argument: "x $$y", at: 12 }]);
    expect(interpolations("${A:-${B}")).toEqual([
      { name: "A", operator: ":-", argument: "${B}", at: 0 },
      { name: "B", operator: "", argument: "", at: 5 },
    ]);
  });

  it("reads a default with spaces, colons and slashes", () => {
    expect(interpolations("${URL:-http://a b:80/x}")).toEqual([
      { name: "URL", operator: ":-", argument: "http://a b:80/x", at: 0 },
    ]);
  });
});

describe("composeVariables", () => {
  const text = lines(
    "name: ${PROJECT:-shop}",
    "x-common: &common",
    "  TZ: ${TZ:-UTC}",
    "services:",
    "  web:",
    "    image: ${REGISTRY:-ghcr.io/x}/web",
    "    environment:",
    "      <<: *common",
    "      # ${IN_COMMENT} is not interpolated",
    "      KEY_${NOT_A_VALUE}: ${VALUE}",
    "      DB: postgres://u:${POSTGRES_PASSWORD}@db/app",
    "  db:",
    "    command: [\"sh\", \"-c\", \"echo $${LITERAL} ${DB_ARG:?needed}\"]",
  );

  it("finds values only, with the service that holds them", () => {
    expect(composeVariables(text)).toEqual([
      { name: "PROJECT", operator: ":-", argument: "shop", at: 0 },
      { name: "TZ", operator: ":-", argument: "UTC", at: 0 },
      { name: "REGISTRY", operator: ":-", argument: "ghcr.io/x", at: 0, service: "web" },
      { name: "VALUE", operator: "", argument: "", at: 0, service: "web" },
      { name: "POSTGRES_PASSWORD", operator: "", argument: "", at: 13, service: "web" },
      { name: "DB_ARG", operator: ":?", argument: "needed", at: 17, service: "db" },
    ]);
  });

  it("finds the same names in the same order as variableUses", () => {
    expect(composeVariables(text).map((use) => use.name)).toEqual(variableUses(text).map((use) => use.name));
  });
});
