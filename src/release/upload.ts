import { type Readable, Transform } from "node:stream";
import { EnvironmentError } from "../errors.js";
import type { Remote } from "../ssh/connection.js";
import { type Shell, sh } from "../ssh/quote.js";
import { remoteScript } from "../remote/script.js";
import { layoutEnv, type ServerLayout } from "./layout.js";
import { WorkerProgress } from "./worker.js";
import { DELTA_FILES, MANIFEST_FILE, type UploadPlan } from "./manifest.js";

/** Exit status of the upload script when the release an incremental upload builds on is gone. */
export const BASE_GONE = 3;
/** Printed once the archive is whole and staged, just before the switch starts. */
export const UPLOADED = "deploy-vps:uploaded";

/**
 * Lands the archive in a fresh staging folder (upload.sh; the live app folder is not touched),
 * then runs `then`, the worker that switches to it: one round trip for both. An incremental
 * upload builds on `plan.base` and checks its rebuilt manifest against `manifestHash`.
 */
export function uploadScript(layout: ServerLayout, plan: UploadPlan, manifestHash: string | undefined, then: Shell): Shell {
  const upload = remoteScript("upload", {
    env: {
      ...layoutEnv(layout),
      BASE: plan.base ?? "",
      MANIFEST_HASH: manifestHash ?? "",
      UPLOADED_MARK: UPLOADED,
      BASE_GONE,
      MANIFEST_NAME: MANIFEST_FILE,
      DELTA_REMOVE: DELTA_FILES.remove,
      DELTA_ADD: DELTA_FILES.add,
      DELTA_CHANGED: DELTA_FILES.changed,
      DELTA_DELETED: DELTA_FILES.deleted,
    },
  });
  return sh`${upload} && ${then}`;
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

/**
 * Streams the archive and, in the same round trip, starts the worker that switches to it and
 * brings the containers up. `arrived` settles first: true once the archive is whole on the
 * server, false when the release an incremental upload builds on is gone (redo it full),
 * rejected when the upload failed. `worker` follows the rest.
 */
export function uploadAndSwitch(
  remote: Remote,
  layout: ServerLayout,
  upload: { plan: UploadPlan; manifestHash?: string; archive: Readable; worker: Shell },
  onBytes: (n: number) => void,
): { arrived: Promise<boolean>; worker: WorkerProgress } {
  const { plan, archive } = upload;
  let arrive: (whole: boolean) => void = () => undefined;
  let fail: (error: unknown) => void = () => undefined;
  const arrived = new Promise<boolean>((resolve, reject) => {
    arrive = resolve;
    fail = reject;
  });
  const where = `${remote.target.host}:${layout.app}`;
  const worker = new WorkerProgress(remote.target.host, (reason) => new EnvironmentError(`switching ${where} to the new version failed: ${reason}`));
  let uploaded = false;
  const counted = archive.pipe(byteCounter(onBytes));
  archive.on("error", (error) => counted.destroy(error));
  const run = async (): Promise<void> => {
    const result = await remote.run(uploadScript(layout, plan, upload.manifestHash, upload.worker), {
      stdin: counted,
      onLine: (line) => {
        if (uploaded) worker.line(line);
        else if (line === UPLOADED) {
          uploaded = true;
          arrive(true);
        }
      },
    });
    if (uploaded) return worker.finish(result.code);
    if (result.code === 0) throw new EnvironmentError(`the upload to ${where} ended without its archive: ${result.stderr.trim()}`);
    if (result.code === BASE_GONE && plan.base !== undefined) return arrive(false);
    const reason = `${result.stdout.toString("utf8")}\n${result.stderr}`
      .split("\n")
      .filter((line) => line.trim())
      .slice(-3)
      .join(" / ");
    const why = /No space left/i.test(result.stderr) ? "the server's disk is full" : reason;
    throw new EnvironmentError(`upload to ${remote.target.host}:${layout.staging} failed: ${why}. The live version was not touched.`);
  };
  // Before the archive arrived, a failure is the upload's and `arrived` carries it; after, the worker's.
  run().catch((error: unknown) => {
    fail(error);
    worker.fail(error);
  });
  return { arrived, worker };
}
