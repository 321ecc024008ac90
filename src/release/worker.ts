import type { ZeroDowntimePlan } from "../blue-green/plan.js";
import { startScript } from "../blue-green/start.js";
import type { ComposeInvocation } from "../compose/commands.js";
import { DeployError, EnvironmentError, ExitCode } from "../errors.js";
import type { Remote } from "../ssh/connection.js";
import { remoteScriptArguments } from "../remote/script.js";
import type { Shell } from "../ssh/quote.js";
import { detached } from "./detached.js";
import { type LogEntry, logScript } from "./history.js";
import { layoutEnv, type ServerLayout } from "./layout.js";

/** Printed by the worker once the files are in place, before compose starts. */
export const SWITCHED = "deploy-vps:switched";

/** Lines of the zero-downtime scripts (blue-green.sh, standby.sh): a progress line, the new container's logs, why it is not ready. */
export const STEP_MARK = "deploy-vps:step ";
export const LOG_MARK = "deploy-vps:log ";
export const UNREADY_MARK = "deploy-vps:unready ";
/** The scripts' exit status when the new version never became ready and the old one still serves. */
export const UNREADY_EXIT = 3;

/** How the containers are brought up, and what the deploy log says if that fails. */
export interface StartStep {
  compose: ComposeInvocation;
  build: boolean;
  /** The zero-downtime work in place of a plain `up -d`, if any. */
  plan: ZeroDowntimePlan;
  /** The release the files are at once the file step is done: recorded after a successful `up`. */
  release: string;
  failed: LogEntry;
}

/**
 * The detached worker of a version change (worker.sh run by detached.sh): the file step (a
 * deploy's switch, a rollback's restore) and then build and `up -d`, in one session of its own.
 * Nothing that happens to the client once it started (a kill, a dropped connection) can leave
 * the files at one release and the containers at another: it goes on to the end.
 */
export function workerScript(layout: ServerLayout, files: Shell | undefined, start: StartStep): Shell {
  const worker = remoteScriptArguments("worker", {
    env: {
      ...layoutEnv(layout),
      FILES_STEP: files?.code ?? "",
      START_STEP: startScript(layout.app, start.compose, start.build, start.plan).code,
      LOG_FAILURE: logScript(layout, start.failed).code,
      RELEASE: start.release,
      SWITCHED_MARK: SWITCHED,
    },
  });
  return detached(worker, layout);
}

/**
 * Follows a worker's output as the remote command streams it: `switched` settles when the file
 * step is over (at once when there is none), `started` when the containers are up. Each fails
 * with its own half's error. Compose's lines go to whoever `follow`s, those already printed first.
 */
export class WorkerProgress {
  readonly switched: Promise<void>;
  readonly started: Promise<void>;
  private settleSwitch!: { resolve: () => void; reject: (error: unknown) => void };
  private settleStart!: { resolve: () => void; reject: (error: unknown) => void };
  private filesDone = false;
  private readonly fileLines: string[] = [];
  private readonly composeLines: string[] = [];
  /** What a zero-downtime script said of a new version that never became ready. */
  private readonly unreadyLogs: string[] = [];
  private unready?: string;
  private sink?: (line: string) => void;

  /** `filesError`: the error of a failed file step; none when the worker has no file step. */
  constructor(
    private readonly host: string,
    private readonly filesError?: (reason: string) => Error,
  ) {
    this.switched = new Promise<void>((resolve, reject) => {
      this.settleSwitch = { resolve, reject };
    });
    this.started = new Promise<void>((resolve, reject) => {
      this.settleStart = { resolve, reject };
    });
    // Whoever awaits them sees the failure; unawaited (the run stopped first), it is not a crash.
    this.switched.catch(() => undefined);
    this.started.catch(() => undefined);
    if (!filesError) this.switchDone();
  }

  private switchDone(): void {
    this.filesDone = true;
    this.settleSwitch.resolve();
  }

  line(line: string): void {
    if (!this.filesDone) {
      if (line === SWITCHED) this.switchDone();
      else if (line.trim()) this.fileLines.push(line);
      return;
    }
    if (line.startsWith(LOG_MARK)) this.unreadyLogs.push(line.slice(LOG_MARK.length));
    else if (line.startsWith(UNREADY_MARK)) this.unready = line.slice(UNREADY_MARK.length);
    else this.show(line.startsWith(STEP_MARK) ? line.slice(STEP_MARK.length) : line);
  }

  private show(line: string): void {
    this.composeLines.push(line);
    this.sink?.(line);
  }

  follow(onLine: (line: string) => void): void {
    this.sink = onLine;
    for (const line of this.composeLines) onLine(line);
  }

  /** The worker ended with `code`. */
  finish(code: number): void {
    if (code === 0) {
      this.settleSwitch.resolve();
      this.settleStart.resolve();
    } else if (!this.filesDone && this.filesError) {
      this.fail(this.filesError(this.fileLines.slice(-3).join(" / ") || `exit ${code}`));
    } else if (code === UNREADY_EXIT && this.unready !== undefined) {
      const logs = this.unreadyLogs.length ? `\nIts last log lines:\n${this.unreadyLogs.map((line) => `  ${line}`).join("\n")}` : "";
      this.settleStart.reject(new DeployError(`${this.unready} (on ${this.host}).${logs}`, ExitCode.unhealthy));
    } else {
      const tail = this.composeLines.filter((line) => line.trim()).slice(-5);
      this.settleStart.reject(new EnvironmentError(`docker compose failed on ${this.host} (exit ${code}): ${tail.join(" / ")}`));
    }
  }

  /** The connection failed: what has not settled yet fails with it. */
  fail(error: unknown): void {
    this.settleSwitch.reject(error);
    this.settleStart.reject(error);
  }
}

/** Runs a worker script over `remote`, its output followed by `progress`. */
export function runWorker(remote: Remote, script: Shell, progress: WorkerProgress): WorkerProgress {
  remote.run(script, { onLine: (line) => progress.line(line) }).then(
    (result) => progress.finish(result.code),
    (error: unknown) => progress.fail(error),
  );
  return progress;
}
