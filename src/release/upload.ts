import { posix } from "node:path";
import { type Readable, Transform } from "node:stream";
import { EnvironmentError } from "../errors.js";
import type { Remote } from "../ssh/connection.js";
import { type Shell, sh } from "../ssh/quote.js";
import type { ServerLayout } from "./layout.js";

/** Lands the archive in a fresh staging folder; the live app folder is not touched. */
export function uploadScript(layout: ServerLayout): Shell {
  // The app's parent keeps ordinary modes; the state folder is private; the staged tree keeps
  // the archive's modes, since `cp -a` carries them, its root's included, into the app folder.
  return sh`set -eu
umask 022
mkdir -p ${posix.dirname(layout.app)}
umask 077
mkdir -p ${layout.state}
rm -rf ${layout.staging}
mkdir ${layout.staging}
umask 022
mkdir ${`${layout.staging}/files`}
tar -xzpf - --no-same-owner -C ${`${layout.staging}/files`}`;
}

/** Counts the compressed bytes that really go over the wire. */
export function byteCounter(onBytes: (total: number) => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      total += chunk.length;
      onBytes(total);
      done(null, chunk);
    },
  });
}

export async function uploadRelease(
  remote: Remote,
  layout: ServerLayout,
  archive: Readable,
  onBytes: (n: number) => void,
): Promise<number> {
  let sent = 0;
  const counter = byteCounter((n) => {
    sent = n;
    onBytes(n);
  });
  const counted = archive.pipe(counter);
  archive.on("error", (error) => counted.destroy(error));
  const result = await remote.run(uploadScript(layout), { stdin: counted });
  if (result.code !== 0) {
    const reason = /No space left/i.test(result.stderr)
      ? "the server's disk is full"
      : result.stderr.trim().split("\n").slice(-3).join(" / ");
    throw new EnvironmentError(
      `upload to ${remote.target.host}:${layout.staging} failed: ${reason}. The live version was not touched.`,
    );
  }
  return sent;
}
