import { describe, expect, it } from "vitest";
import { JsonObjects, retryWait } from "../../../src/docker/events.js";
import { AnswerShapeError } from "../../../src/docker/responses.js";

describe("JsonObjects", () => {
  const objects = [{ Action: "start", Actor: { ID: "a", Attributes: { note: 'braces } { and "quotes" \\ inside' } } }, { Action: "die", name: "café ☕" }, {}];
  const text = `${objects.map((object) => JSON.stringify(object)).join("\n")}\n`;
  const bytes = Buffer.from(text);

  it("splits objects written one after another, whatever the chunks' boundaries", () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      const stream = new JsonObjects();
      const found = [...stream.push(bytes.subarray(0, cut)), ...stream.push(bytes.subarray(cut))];
      expect(found, `cut at byte ${cut}`).toEqual(objects);
    }
  });

  it("reads byte by byte (a multi-byte character split across chunks included)", () => {
    const stream = new JsonObjects();
    const found = [...bytes].flatMap((byte) => stream.push(Buffer.from([byte])));
    expect(found).toEqual(objects);
  });

  it("needs no newline between objects", () => {
    expect(new JsonObjects().push(Buffer.from('{"a":1}{"b":"}"}  {"c":[{}]}'))).toEqual([{ a: 1 }, { b: "}" }, { c: [{}] }]);
  });

  it("refuses anything but objects between objects", () => {
    expect(() => new JsonObjects().push(Buffer.from('{"a":1}\n[1]'))).toThrow(new AnswerShapeError("the event stream has '[' between objects"));
  });

  it("refuses an object that never ends within the limit", () => {
    const stream = new JsonObjects();
    stream.push(Buffer.from('{"a":"'));
    expect(() => stream.push(Buffer.alloc(1024 * 1024, "x"))).toThrow(/an event exceeds 1048576 characters/);
  });
});

describe("retryWait", () => {
  it("doubles from 250 ms to 5 s while connections fail", () => {
    const waits: number[] = [];
    let wait: number | undefined;
    for (let i = 0; i < 7; i++) waits.push((wait = retryWait(wait, undefined)));
    expect(waits).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
  });

  it("starts again from 250 ms after a connection that stayed up 5 s, not after a short one", () => {
    expect(retryWait(5000, 5000)).toBe(250);
    expect(retryWait(1000, 4999)).toBe(2000);
  });
});
