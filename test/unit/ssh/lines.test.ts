import { describe, expect, it } from "vitest";
import { LineStream } from "../../../src/ssh/lines.js";

const bytes = (text: string) => Buffer.from(text, "utf8");

describe("LineStream", () => {
  it("decodes a character cut between two chunks whole", () => {
    const stream = new LineStream();
    const e = bytes("é");
    const first = stream.push(Buffer.concat([bytes("caf"), e.subarray(0, 1)]));
    expect(first).toEqual({ text: "caf", lines: [] });
    expect(stream.push(Buffer.concat([e.subarray(1), bytes("\n")]))).toEqual({ text: "é\n", lines: ["café"] });
  });

  it("splits at \\n, \\r\\n and \\r, a \\r\\n cut in two included", () => {
    const stream = new LineStream();
    expect(stream.push(bytes("a\r\nb\rc\r")).lines).toEqual(["a", "b"]);
    expect(stream.push(bytes("\nd\n")).lines).toEqual(["c", "d"]);
  });

  it("gives the last line without a newline at the end, and an undecodable tail as a replacement", () => {
    const stream = new LineStream();
    expect(stream.push(Buffer.concat([bytes("tail "), bytes("é").subarray(0, 1)])).lines).toEqual([]);
    expect(stream.end()).toEqual({ text: "\ufffd", lines: ["tail \ufffd"] });
  });

  it("keeps two streams' partial lines apart", () => {
    const out = new LineStream();
    const err = new LineStream();
    expect(out.push(bytes("Hello, ")).lines).toEqual([]);
    expect(err.push(bytes("warning\n")).lines).toEqual(["warning"]);
    expect(out.push(bytes("world\n")).lines).toEqual(["Hello, world"]);
  });
});
