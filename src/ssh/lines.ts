import { StringDecoder } from "node:string_decoder";

/**
 * One output stream of a remote command as whole lines: a decoder and a partial line of its
 * own, so that a character split between two chunks is decoded whole and a line that stdout
 * has not finished is never joined to one from stderr.
 */
export class LineStream {
  private readonly decoder = new StringDecoder("utf8");
  private partial = "";

  /** The text of `chunk` (a character cut at its end waits for the next), and the lines it completed. */
  push(chunk: Buffer): { text: string; lines: string[] } {
    const text = this.decoder.write(chunk);
    const all = this.partial + text;
    // A "\r" at the end may be the first half of a "\r\n": the next chunk tells.
    const held = all.endsWith("\r") ? "\r" : "";
    const lines = all.slice(0, all.length - held.length).split(/\r?\n|\r/);
    this.partial = (lines.pop() ?? "") + held;
    return { text, lines };
  }

  /** At the stream's end: what was left undecoded, and the last line if it had no newline. */
  end(): { text: string; lines: string[] } {
    const text = this.decoder.end();
    const last = (this.partial + text).replace(/\r$/, "");
    this.partial = "";
    return { text, lines: last ? [last] : [] };
  }
}
