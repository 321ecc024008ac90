import { describe, expect, it } from "vitest";
import { MIN_REDACTED, REDACTED, Redactor } from "../../../src/secrets/redact.js";

const secret = "3f9a0c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f";

function redactor(env: string, secretKeys: string[] = []): Redactor {
  const r = new Redactor();
  r.addEnv(env, secretKeys);
  return r;
}

describe("Redactor", () => {
  it("hides a generated secret in a compose error message", () => {
    const r = redactor(`DB_PASSWORD=${secret}\n`);
    expect(r.redact(`Invalid containerPort: ${secret}`)).toBe(`Invalid containerPort: ${REDACTED}`);
  });

  it("hides every value of 8 characters or more, secret-like key or not", () => {
    const r = redactor("APP_URL=https://shop.example.org\nNODE_ENV=production\n");
    expect(r.redact("listening on https://shop.example.org in production")).toBe(`listening on ${REDACTED} in ${REDACTED}`);
  });

  it("leaves short values of ordinary keys alone, hides short secrets above the floor", () => {
    const r = redactor("DB_USER=app\nDEBUG=true\nPORT=8080\nADMIN_PASSWORD=hunter2\nAPI_TOKEN=abc\n");
    expect(r.redact("app started, debug true, port 8080, user app")).toBe("app started, debug true, port 8080, user app");
    expect(r.redact("login with hunter2")).toBe(`login with ${REDACTED}`);
    // Three characters is no secret: hiding "abc" everywhere would hide the output.
    expect(r.redact("abc def")).toBe("abc def");
  });

  it("hides any piece of a secret long enough to give it away, not of an ordinary value", () => {
    const r = redactor(`DB_PASSWORD=${secret}\nDATA_DIR=/srv/data/shop\n`);
    expect(r.redact(`value ${secret.slice(5, 5 + MIN_REDACTED)} was cut`)).toBe(`value ${REDACTED} was cut`);
    expect(r.redact(`truncated: ${secret.slice(0, 20)}…`)).toBe(`truncated: ${REDACTED}…`);
    expect(r.redact(`short piece ${secret.slice(0, MIN_REDACTED - 1)}`)).toBe(`short piece ${secret.slice(0, MIN_REDACTED - 1)}`);
    expect(r.redact("mounted /srv/data")).toBe("mounted /srv/data");
  });

  it("merges overlapping and adjacent values into one mark", () => {
    const r = new Redactor();
    r.add("abcdefgh12", false);
    r.add("gh12345678", false);
    expect(r.redact("x abcdefgh12345678 y")).toBe(`x ${REDACTED} y`);
    expect(r.redact("abcdefgh12abcdefgh12")).toBe(REDACTED);
  });

  it("treats regex metacharacters in values as plain text", () => {
    const value = "a.b*c+d?(e)[f]{g}|h^$\\i";
    const r = new Redactor();
    r.add(value, true);
    expect(r.redact(`got ${value}!`)).toBe(`got ${REDACTED}!`);
    expect(r.redact("got aXbbbcd e fgh i")).toBe("got aXbbbcd e fgh i");
  });

  it("hides the JSON- and URL-escaped forms and each line of a multi-line value", () => {
    const r = redactor(`SMTP_PASSWORD="p@ss w\\"ord/1\\nsecond-line-9"\n`);
    expect(r.redact('{"Env":["SMTP_PASSWORD=p@ss w\\"ord/1\\nsecond-line-9"]}')).toBe(`{"Env":["SMTP_PASSWORD=${REDACTED}"]}`);
    expect(r.redact("smtp://u:p%40ss%20w%22ord%2F1%0Asecond-line-9@mail")).toBe(`smtp://u:${REDACTED}@mail`);
    expect(r.redact("line two: second-line-9")).toBe(`line two: ${REDACTED}`);
  });

  it("hides a value that a stream delivered in pieces, once its line is whole", () => {
    const r = redactor(`DB_PASSWORD=${secret}\n`);
    const chunks = [`error: ${secret.slice(0, 30)}`, `${secret.slice(30)} rejected\n`];
    // Each piece alone still shows nothing whole; the line put together is hidden.
    const line = chunks.join("").trimEnd();
    expect(r.redact(line)).toBe(`error: ${REDACTED} rejected`);
  });

  it("hides the value of a line the env parser cannot read, as compose may still read it", () => {
    const r = redactor(`DB_PASSWORD="unterminated-${secret}\nOTHER=fine-value-1\n`);
    expect(r.redact(`port: unterminated-${secret}`)).toBe(`port: ${REDACTED}`);
    expect(r.redact("other: fine-value-1")).toBe(`other: ${REDACTED}`);
  });

  it("returns text unchanged when it knows no value", () => {
    expect(new Redactor().redact(`anything ${secret}`)).toBe(`anything ${secret}`);
  });
});
