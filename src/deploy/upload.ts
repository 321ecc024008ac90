import { digestCachePath, digestFiles, FileHashes, writeHashCache } from "../archive/digest.js";
import { type Later, packRelease, tarBytes } from "../archive/pack.js";
import type { ShippedFile } from "../archive/walk.js";
import { switchScript } from "../release/apply.js";
import { gitInfo, localOrigin, logEntry, type ReleaseMeta } from "../release/history.js";
import { releaseId } from "../release/layout.js";
import {
  formatManifest,
  fullUpload,
  MANIFEST_FILE,
  manifestDelta,
  manifestHash,
  fullUploadReason,
  planUpload,
  type UploadPlan,
} from "../release/manifest.js";
import { keepManifest, liveManifest } from "../release/manifest-store.js";
import { uploadAndSwitch } from "../release/upload.js";
import { withWrittenFiles } from "../compose/local-images.js";
import { type StartStep, workerScript } from "../release/worker.js";
import type { DeployContext, StepView } from "./context.js";
import { formatBytes, uploadProgress } from "./format.js";
import { timed } from "./tasks.js";

/** How the worker brings the containers up once `c.release`'s files are in place. */
export function startStep(c: DeployContext): StartStep {
  return {
    compose: c.compose,
    build: c.plan.services.some((s) => s.hasBuild),
    release: c.release,
    failed: logEntry("deploy", c.release, "failed"),
  };
}

/** Shows the upload's progress this often: a line per chunk cost the CLI more than the chunk. */
const PROGRESS_EVERY_MS = 200;

/**
 * The manifest of a first deploy, made from the hashes the archive takes as it reads each file:
 * `make` is called once the files are packed.
 */
function hashedByArchive(files: ShippedFile[], replaced: Map<string, string>) {
  const hashes = new FileHashes(files, replaced);
  let made: (text: Buffer) => void = () => undefined;
  const manifest = new Promise<Buffer>((resolve) => {
    made = resolve;
  });
  const make = () => {
    const text = formatManifest(hashes);
    made(text);
    return text;
  };
  return { hashes, manifest, make };
}

/**
 * The Upload step: decides what to send (everything, or what differs from the live release's
 * manifest), streams it, and leaves the worker that switches and starts the new version
 * running on the server (`c.worker`). It ends once the archive is whole there.
 */
export async function uploadRelease(c: DeployContext, step: StepView): Promise<void> {
  const { settings } = c;
  const started = Date.now();
  const files = withWrittenFiles(c.plan.tree.files, c.images.written);
  const paths = files.map((file) => file.path);
  const everything = (because: string) => fullUpload(paths, because);
  const cacheFile = digestCachePath(settings.projectDir);
  const { current, manifestHash: liveHash } = c.server;
  // A delta needs the live release's manifest, whose hash the probe brought back, and the new
  // one, hashed up front (from the hash cache, mostly). The same hash as the live one means no
  // file changed: the live manifest need not be loaded at all.
  const live = current && liveHash && !settings.full ? { release: current, hash: liveHash } : undefined;
  // A first deploy need not wait: the archive hashes each file as it reads it, and the manifest
  // made from those hashes closes it. Each file is read once.
  const byArchive = live ? undefined : hashedByArchive(files, c.images.written);
  const manifest =
    byArchive?.manifest ??
    timed(c, "digest", () => digestFiles(settings.projectDir, files, c.images.written, cacheFile)).then(({ entries }) => formatManifest(entries));
  if (live) {
    const same = manifestHash(await manifest) === live.hash;
    const previous = same ? undefined : await liveManifest(c.remote, c.layout, live.release, live.hash);
    if (same) c.upload = { base: live.release, send: [], deleted: [], unchanged: files.length };
    else if (previous) c.upload = planUpload({ manifest: await manifest, paths }, { release: live.release, manifest: previous });
    else c.upload = everything(fullUploadReason({ release: current, manifestHash: liveHash }, settings.full));
  } else c.upload = everything(fullUploadReason({ release: current, manifestHash: liveHash }, settings.full));
  const { base } = c.upload;
  if (base && c.upload.send.length === 0 && c.upload.deleted.length === 0 && c.env.text === c.server.env) {
    // Nothing to ship and the same .env: the live release stays; compose still makes sure it runs.
    c.release = base;
    c.unchanged = true;
    step.skip(`Upload: nothing changed since release ${base}`);
    return;
  }
  c.release = releaseId(new Date());
  const meta: ReleaseMeta = {
    id: c.release,
    time: new Date().toISOString(),
    by: localOrigin(),
    git: await gitInfo(settings.projectDir),
    files: files.length,
    bytes: c.plan.tree.bytes,
    project: c.project,
    composeFiles: c.compose.files,
  };
  const worker = workerScript(c.layout, switchScript(c.layout, c.release, c.project, JSON.stringify(meta)), startStep(c));
  // The worker follows the upload in the same remote script: this step ends when the archive
  // is whole on the server, the next when the files are switched, the one after at `up`.
  const send = async (plan: UploadPlan) => {
    const sent = plan.base ? new Set(plan.send) : undefined;
    const shipped = sent ? files.filter((file) => sent.has(file.path)) : files;
    // A full upload carries the whole manifest; a redeploy only the lines that change, and the
    // hash of the whole, for the server to check its rebuild.
    const delta = plan.base ? manifestDelta(plan) : undefined;
    const total = tarBytes(shipped);
    let packed = 0;
    let shown = 0;
    const archive = packRelease(
      settings.projectDir,
      shipped,
      {
        replaced: c.images.written,
        extra: delta ?? new Map<string, Later>([[MANIFEST_FILE, byArchive?.make ?? manifest]]),
        beside: new Map([["env", c.env.text]]),
      },
      (bytes) => {
        packed = bytes;
      },
      byArchive && ((index, digest) => byArchive.hashes.set(index, digest)),
    );
    return uploadAndSwitch(
      c.remote,
      c.layout,
      { plan, manifestHash: delta ? manifestHash(await manifest) : undefined, archive, worker },
      (bytes) => {
        c.uploadedBytes = bytes;
        const now = Date.now();
        if (now - shown < PROGRESS_EVERY_MS) return;
        shown = now;
        step.output = uploadProgress({ sent: bytes, packed, total, elapsedMs: now - started });
      },
    );
  };
  let transfer = await send(c.upload);
  if (!(await timed(c, "upload", () => transfer.arrived))) {
    c.upload = everything("the live release is gone or differs from its manifest");
    transfer = await send(c.upload);
    await timed(c, "upload", () => transfer.arrived);
  }
  c.worker = transfer.worker;
  if (byArchive) await writeHashCache(cacheFile, byArchive.hashes);
  await keepManifest(c.remote, c.layout, await manifest);
  const { upload } = c;
  const what = upload.base
    ? `${upload.send.length} changed, ${upload.deleted.length} deleted, ${upload.unchanged} unchanged`
    : `${upload.send.length} files (full upload: ${upload.fullBecause})`;
  step.title = `Upload: ${what}, ${formatBytes(c.uploadedBytes)} sent in ${((Date.now() - started) / 1000).toFixed(1)} s`;
}
