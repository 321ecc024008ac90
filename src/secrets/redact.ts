import { isSecretLike, parseEnvFile } from "./env-file.js";

/**
 * Shorter values are hidden only when a secret-like key holds them: a common word ("postgres",
 * "true") hidden everywhere would hide the output itself.
 */
export const MIN_REDACTED = 8;
/** A secret-like key's value shorter than this is not hidden at all (it is no secret). */
export const MIN_SECRET = 4;
/** What stands in for a hidden value. */
export const REDACTED = "[redacted]";

/**
 * Hides the values of the server's `.env` in text that came back from the server: compose,
 * for one, quotes interpolated values in its error messages. A value is hidden wherever it
 * appears whole (also as JSON or a URL would write it, and each line of a multi-line value);
 * a secret's value is also hidden by any piece of MIN_REDACTED characters or more, so that a
 * message that cuts it short shows none of it.
 */
export class Redactor {
  private readonly whole = new Set<string>();
  /** Every MIN_REDACTED-character piece of each secret. */
  private readonly pieces = new Set<string>();

  get size(): number {
    return this.whole.size;
  }

  add(value: string, secret: boolean): void {
    const forms = new Set([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value), ...value.split(/\r?\n/)]);
    for (const form of forms) {
      if (form.length >= MIN_REDACTED || (secret && form.length >= MIN_SECRET)) this.whole.add(form);
      if (secret) for (let i = 0; i + MIN_REDACTED <= form.length; i++) this.pieces.add(form.slice(i, i + MIN_REDACTED));
    }
  }

  /** Every value of an env file; those of secret-like keys (and of `secretKeys`) as secrets. */
  addEnv(text: string, secretKeys: Iterable<string> = []): void {
    const secrets = new Set(secretKeys);
    for (const line of parseEnvFile(".env", text, false).lines) {
      if (line.kind === "entry") this.add(line.value, secrets.has(line.key) || isSecretLike(line.key) || line.markedSecret);
      // A line this parser cannot read may still be one that compose reads: its text after "=" too.
      const unread = line.kind === "comment" && !line.raw.trimStart().startsWith("#") ? /^\s*(?:export\s+)?([^=]*)=(.*)$/.exec(line.raw) : null;
      if (unread) this.add((unread[2] ?? "").trim().replace(/^["']|["']$/g, ""), isSecretLike(unread[1] ?? ""));
    }
  }

  redact(text: string): string {
    if (this.whole.size === 0 || text.length < MIN_SECRET) return text;
    // Which characters to hide, then each run of them replaced once: overlapping values merge.
    const hidden = new Uint8Array(text.length);
    const hide = (from: number, to: number) => hidden.fill(1, from, to);
    for (const value of this.whole) {
      for (let at = text.indexOf(value); at >= 0; at = text.indexOf(value, at + 1)) hide(at, at + value.length);
    }
    if (this.pieces.size > 0) {
      for (let i = 0; i + MIN_REDACTED <= text.length; i++) {
        if (this.pieces.has(text.slice(i, i + MIN_REDACTED))) hide(i, i + MIN_REDACTED);
      }
    }
    let out = "";
    let from = 0;
    for (let i = 0; i < text.length; i++) {
      if (!hidden[i]) continue;
      let end = i;
      while (end < text.length && hidden[end]) end++;
      out += text.slice(from, i) + REDACTED;
      from = end;
      i = end;
    }
    return from === 0 ? text : out + text.slice(from);
  }
}
