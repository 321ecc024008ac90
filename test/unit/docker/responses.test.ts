import { describe, expect, it } from "vitest";
import { AnswerShapeError, parseContainers, parseInfo, parseVersion } from "../../../src/docker/responses.js";

const container = {
  Id: "4f2a",
  Names: ["/shop-web-1"],
  Image: "shop/web",
  State: "running",
  Status: "Up 2 minutes",
  Labels: { "com.docker.compose.project": "shop" },
  Created: 1_764_000_000,
};

describe("parseContainers", () => {
  it("keeps the fields the calls use, typed", () => {
    expect(parseContainers([container])).toEqual([
      { id: "4f2a", names: ["/shop-web-1"], state: "running", status: "Up 2 minutes", labels: { "com.docker.compose.project": "shop" }, created: 1_764_000_000 },
    ]);
  });

  it("reads Docker's null labels and names as empty", () => {
    const [parsed] = parseContainers([{ ...container, Labels: null, Names: null }]);
    expect(parsed?.labels).toEqual({});
    expect(parsed?.names).toEqual([]);
  });

  it.each([
    [{ not: "a list" }, "the answer is not a list"],
    [[null], "container [0] is not an object"],
    [[container, { ...container, Id: 7 }], "container [1].Id is not a string"],
    [[{ ...container, Created: "yesterday" }], "container [0].Created is not a number"],
    [[{ ...container, Names: ["/a", 3] }], "container [0].Names is not a list of strings"],
    [[{ ...container, Labels: ["a=b"] }], "container [0].Labels is not an object"],
    [[{ ...container, Labels: { a: 1 } }], 'container [0].Labels["a"] is not a string'],
    [[{ ...container, State: undefined }], "container [0].State is not a string"],
  ])("refuses %j, naming the field", (body, message) => {
    expect(() => parseContainers(body)).toThrow(new AnswerShapeError(message));
  });
});

describe("parseVersion and parseInfo", () => {
  it("read the server's version", () => {
    expect(parseVersion({ Version: "20.10.24", ApiVersion: "1.41", Os: "linux" })).toEqual({ version: "20.10.24", apiVersion: "1.41" });
    expect(parseInfo({ ServerVersion: "28.2.2", Containers: 3 })).toEqual({ serverVersion: "28.2.2" });
  });

  it("refuse another shape", () => {
    expect(() => parseVersion({ ApiVersion: "1.41" })).toThrow("the answer.Version is not a string");
    expect(() => parseInfo([])).toThrow("the answer is not an object");
    expect(() => parseInfo("OK")).toThrow("the answer is not an object");
  });
});
