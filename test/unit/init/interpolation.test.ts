import { describe, expect, it } from "vitest";
import { variableUses } from "../../../src/compose/variables.js";
import { composeVariables, interpolations } from "../../../src/init/interpolation.js";

const lines = (...l: string[]) => `${l.join("\n")}\n`;

describe("interpolations", () => {
  it("gives each form its operator and argument", () => {
    expect(
      interpolations("$PLAIN ${BRACED} ${A:-d} ${B-d} ${C:?say} ${D?say} ${E:+on} ${F+on} ${G:-}"),
    ).toEqual([
      { name: "PLAIN", operator: "", argument: "" },
      { name: "BRACED", operator: "", argument: "" },
      { name: "A", operator: ":-", argument: "d" },
      { name: "B", operator: "-", argument: "d" },
      { name: "C", operator: ":?", argument: "say" },
      { name: "D", operator: "?", argument: "say" },
      { name: "E", operator: ":+", argument: "on" },
      { name: "F", operator: "+", argument: "on" },
      { name: "G", operator: ":-", argument: "" },
    ]);
  });

  it("keeps a nested default as written and reports the nested variable after it", () => {
    expect(interpolations("${LEVEL:-${DEFAULT:-info}}-x")).toEqual([
      { name: "LEVEL", operator: ":-", argument: "${DEFAULT:-info}" },
      { name: "DEFAULT", operator: ":-", argument: "info" },
    ]);
  });

  it("skips $$ and stray dollars, and runs an unclosed argument to the end", () => {
    expect(interpolations("$$HOME $ 1$ ${A:-x $$y")).toEqual([{ name: "A", operator: ":-", argument: "x $$y" }]);
    expect(interpolations("${A:-${B}")).toEqual([
      { name: "A", operator: ":-", argument: "${B}" },
      { name: "B", operator: "", argument: "" },
    ]);
  });

  it("reads a default with spaces, colons and slashes", () => {
    expect(interpolations("${URL:-http://a b:80/x}")).toEqual([
      { name: "URL", operator: ":-", argument: "http://a b:80/x" },
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
      { name: "PROJECT", operator: ":-", argument: "shop" },
      { name: "TZ", operator: ":-", argument: "UTC" },
      { name: "REGISTRY", operator: ":-", argument: "ghcr.io/x", service: "web" },
      { name: "VALUE", operator: "", argument: "", service: "web" },
      { name: "POSTGRES_PASSWORD", operator: "", argument: "", service: "web" },
      { name: "DB_ARG", operator: ":?", argument: "needed", service: "db" },
    ]);
  });

  it("finds the same names in the same order as variableUses", () => {
    expect(composeVariables(text).map((use) => use.name)).toEqual(variableUses(text).map((use) => use.name));
  });
});
