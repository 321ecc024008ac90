import { digestCachePath, digestFiles, FileHashes, writeHashCache } from "../../archive/digest.js";
import { type Later, packRelease, tarBytes } from "../../archive/pack.js";
import type { ShippedFile } from "../../archive/walk.js";
import { withWrittenFiles } from "../../compose/local-images.js";
import { switchScript } from "../../release/apply.js";
import { gitInfo, localOrigin, logEntry, type ReleaseMeta } from "../../release/history.js";
import { releaseId } from "../../release/layout.js";
import {
  formatManifest,
  fullUpload,
  fullUploadReason,
  MANIFEST_FILE,
  manifestDelta,
  manifestHash,
  planUpload,
  type UploadPlan,
} from "../../release/manifest.js";
import { keepManifest, liveManifest } from "../../release/manifest-store.js";
import { uploadAndSwitch } from "../../release/upload.js";
import { type StartStep, workerScript } from "../../release/worker.js";
import { type DeployContext, type Ready, ready, type StepView } from "../context.js";
import { formatBytes, uploadProgress } from "../format.js";
import { timed } from "../tasks.js";

/** What the Upload step needs: the project, its secrets and images, and (with a host) the server it goes to. */
type UploadInput = Ready<DeployContext, "plan" | "env" | "images" | "project">;
type LiveInput = Ready<DeployContext, "plan" | "env" | "images" | "project" | "remote" | "target" | "server" | "compose" | "zeroDowntime">;

/** Shows the upload's progress at most this often: a line per chunk cost the CLI more than the chunk. */
const PROGRESS_EVERY_MS = 200;

/** How the worker brings the containers up once `release`'s files are in place. */
export function startStep(c: Ready<DeployContext, "plan" | "compose" | "zeroDowntime">, release: string): StartStep {
  return {
    compose: c.compose,
    build: c.plan.services.some((s) => s.hasBuild),
    plan: c.zeroDowntime,
    release,
    failed: logEntry("deploy", release, "failed"),
  };
}

/**
 * The manifest of a full upload, made from the hashes the archive takes as it reads each file:
 * `make` is called once the files are packed.
 */
interface HashedByArchive {
  hashes: FileHashes;
  manifest: Promise<Buffer>;
  make: () => Buffer;
}

function hashedByArchive(files: ShippedFile[], replaced: Map<string, string>): HashedByArchive {
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

/** The files to send, and the manifest of the new release: hashed up front, or by the archive as it reads them. */
interface PlannedUpload {
  files: ShippedFile[];
  plan: UploadPlan;
  manifest: Promise<Buffer>;
  byArchive?: HashedByArchive;
}

/** Decides what to send: everything, or what differs from the live release's manifest. */
async function planFiles(c: LiveInput): Promise<PlannedUpload> {
  const { settings, server } = c;
  const files = withWrittenFiles(c.plan.tree.files, c.images.written);
  const paths = files.map((file) => file.path);
  const { current, manifestHash: liveHash } = server;
  const everything = () => fullUpload(paths, fullUploadReason({ release: current, manifestHash: liveHash }, settings.full));
  // A delta needs the live release's manifest, whose hash the probe brought back, and the new
  // one, hashed up front (from the hash cache, mostly). The same hash as the live one means no
  // file changed: the live manifest need not be loaded at all.
  const live = current && liveHash && !settings.full ? { release: current, hash: liveHash } : undefined;
  if (!live) {
    // A full upload need not wait: the archive hashes each file as it reads it, and the manifest
    // made from those hashes closes it. Each file is read once.
    const byArchive = hashedByArchive(files, c.images.written);
    return { files, plan: everything(), manifest: byArchive.manifest, byArchive };
  }
  const manifest = timed(c, "digest", () => digestFiles(settings.projectDir, files, c.images.written, digestCachePath(settings.projectDir))).then(
    ({ entries }) => formatManifest(entries),
  );
  const same = manifestHash(await manifest) === live.hash;
  const previous = same ? undefined : await liveManifest(c.remote, c.target.layout, live.release, live.hash);
  const plan = same
    ? { base: live.release, send: [], deleted: [], unchanged: files.length }
    : previous
      ? planUpload({ manifest: await manifest, paths }, { release: live.release, manifest: previous })
      : everything();
  return { files, plan, manifest };
}

/** "3,000 files". */
function fileCount(n: number): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? "file" : "files"}`;
}

/** "a, b, c and 4 more". */
function someOf(paths: string[]): string {
  const shown = paths.slice(0, 3).join(", ");
  return paths.length > 3 ? `${shown} and ${paths.length - 3} more` : shown;
}

/**
 * What a dry run says in place of the Upload: what a deploy would send, the delta against the
 * live release when there is one, else every file (`plan` undefined: no host to compare with).
 */
export function wouldUpload(files: ShippedFile[], plan: UploadPlan | undefined, envChanged: boolean): string {
  const total = files.length.toLocaleString("en-US");
  const bytes = (paths: Set<string>) => formatBytes(files.reduce((sum, file) => sum + (paths.has(file.path) ? file.size : 0), 0));
  if (!plan || !plan.base) {
    const all = `Upload: would send all ${fileCount(files.length)} (${bytes(new Set(files.map((f) => f.path)))})`;
    return plan?.fullBecause ? `${all}: full upload, ${plan.fullBecause}` : all;
  }
  if (plan.send.length === 0 && plan.deleted.length === 0) {
    return envChanged ? `Upload: would send no file of ${total}, only the new .env` : `Upload: nothing changed since release ${plan.base}`;
  }
  const sent = plan.send.length ? `${fileCount(plan.send.length)} (${bytes(new Set(plan.send))}) of ${total}: ${someOf(plan.send)}` : `no file of ${total}`;
  const deleted = plan.deleted.length ? `; would delete ${fileCount(plan.deleted.length)}: ${someOf(plan.deleted)}` : "";
  return `Upload: would send ${sent}${deleted}`;
}

/**
 * The Upload step: decides what to send (everything, or what differs from the live release's
 * manifest), streams it, and leaves the worker that switches and starts the new version
 * running on the server (`c.worker`). It ends once the archive is whole there. A dry run plans
 * the same and says what it would send.
 */
export async function uploadRelease(c: UploadInput, step: StepView): Promise<void> {
  if (!c.remote) {
    step.skip(wouldUpload(withWrittenFiles(c.plan.tree.files, c.images.written), undefined, true));
    return;
  }
  const live = ready(c, "remote", "target", "server", "compose", "zeroDowntime");
  const started = Date.now();
  const planned = await planFiles(live);
  const { files, plan } = planned;
  c.upload = plan;
  const envChanged = c.env.text !== live.server.env;
  // Nothing to ship and the same .env: the live release stays; compose still makes sure it runs.
  c.unchanged = plan.base !== undefined && plan.send.length === 0 && plan.deleted.length === 0 && !envChanged;
  if (c.settings.dryRun) {
    step.skip(wouldUpload(files, plan, envChanged));
    return;
  }
  if (c.unchanged) {
    c.release = plan.base;
    step.skip(`Upload: nothing changed since release ${plan.base}`);
    return;
  }
  await sendRelease(live, planned, step, started);
}

/** Streams the release (retrying as a full upload when the live release turns out gone), then keeps its manifest. */
async function sendRelease(c: LiveInput, planned: Omit<PlannedUpload, "plan">, step: StepView, started: number): Promise<void> {
  const { settings } = c;
  const { files, manifest, byArchive } = planned;
  const release = releaseId(new Date());
  c.release = release;
  const { layout } = c.target;
  const meta: ReleaseMeta = {
    id: release,
    time: new Date().toISOString(),
    by: localOrigin(),
    git: await gitInfo(settings.projectDir),
    files: files.length,
    bytes: c.plan.tree.bytes,
    project: c.project,
    composeFiles: c.compose.files,
    zeroDowntime: c.zeroDowntime,
  };
  const worker = workerScript(layout, switchScript(layout, release, c.project, JSON.stringify(meta)), startStep(c, release));
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
      layout,
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
  let upload = ready(c, "upload").upload;
  let transfer = await send(upload);
  if (!(await timed(c, "upload", () => transfer.arrived))) {
    upload = fullUpload(
      files.map((file) => file.path),
      "the live release is gone or differs from its manifest",
    );
    c.upload = upload;
    transfer = await send(upload);
    await timed(c, "upload", () => transfer.arrived);
  }
  c.worker = transfer.worker;
  if (byArchive) await writeHashCache(digestCachePath(settings.projectDir), byArchive.hashes);
  await keepManifest(c.remote, layout, await manifest);
  const what = upload.base
    ? `${upload.send.length} changed, ${upload.deleted.length} deleted, ${upload.unchanged} unchanged`
    : `${upload.send.length} files (full upload: ${upload.fullBecause})`;
  step.title = `Upload: ${what}, ${formatBytes(c.uploadedBytes)} sent in ${((Date.now() - started) / 1000).toFixed(1)} s`;
}
