import { describe, expect, it } from "vitest";
import { parseLogs } from "../../../src/health/watch.js";

describe("parseLogs", () => {
  it("reads each container's lines, empty and marker-like ones included, and skips the script's other lines", () => {
    const answer = [
      "app=L2hvbWU=",
      "logs shop-web-1",
      "| listening on :8080",
      "| ",
      "| logs shop-db-1",
      "| | not a marker",
      "logs shop-db-1",
      "done=",
      "| stray",
    ].join("\n");
    expect(parseLogs(answer)).toEqual(
      new Map([
        ["shop-web-1", ["listening on :8080", "", "logs shop-db-1", "| not a marker"]],
        ["shop-db-1", []],
      ]),
    );
  });
});
