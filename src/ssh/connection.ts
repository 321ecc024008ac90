import { appendFileSync, readFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { NodeSSH } from "node-ssh";
import type { ClientChannel } from "ssh2";
import { DeployError, EnvironmentError, InputError } from "../errors.js";
import { askLine } from "./credentials.js";
import {
  checkHostKey,
  fingerprint,
  type HostKeyVerdict,
  type KnownHostEntry,
  keyTypeOf,
  knownHostName,
  knownHostsLine,
  parseKnownHosts,
} from "./known-hosts.js";
import { Redactor } from "../secrets/redact.js";
import { LineStream } from "./lines.js";
import { type Shell, shCommand } from "./quote.js";

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  identity?: string;
  /** The ssh-agent socket (SSH_AUTH_SOCK), which node-ssh does not pick up by itself. */
  agent?: string;
  passphrase?: string;
  password?: string;
  knownHosts: string;
  acceptNewHostKey: boolean;
  timeoutSeconds: number;
  /** --verbose: trace every remote command and its output. */
  verbose?: boolean;
  /** One jump host (ProxyJump), reached first and with the same credentials. */
  jump?: { host: string; port: number; user: string };
}

/** What a remote command answered, the values of the server's .env hidden (see Remote.secrets). */
export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  /** The output carries secrets (the probe reads .env): never traced, even with --verbose. */
  secretOutput?: boolean;
  /**
   * stdout is data for a parser, never shown (a manifest checked by its hash, docker inspect's
   * JSON): returned byte for byte, not redacted. Everything else that comes back is redacted.
   */
  raw?: boolean;
  /**
   * The server's .env, when this command's answer carries it (the probe): its values join
   * `secrets` before anything of the answer is returned.
   */
  envOf?: (stdout: Buffer) => string | undefined;
  /** Sent on the channel's stdin; a stream is piped with backpressure, never buffered. */
  stdin?: Readable | Buffer | string;
  /** Each complete line of output as it arrives (progress output of long remote commands). */
  onLine?: (line: string) => void;
}

function readKnownHosts(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function hostKeyError(target: SshTarget, verdict: HostKeyVerdict, presented: string): EnvironmentError {
  const where = `${target.host}:${target.port}`;
  switch (verdict.status) {
    case "changed":
      return new EnvironmentError(
        `REMOTE HOST KEY CHANGED for ${where}: it presents ${presented} but ${target.knownHosts} records ${verdict.recorded.join(", ")}. ` +
          "Someone may be intercepting the connection, or the server was reinstalled; if you know why, remove the old line from known_hosts.",
      );
    case "revoked":
      return new EnvironmentError(
        `the host key of ${where} (${presented}) is marked @revoked in ${target.knownHosts}; refusing to connect.`,
      );
    default:
      return new EnvironmentError(
        `unknown host ${where}, key fingerprint ${presented}. Check it against the server (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), ` +
          `then run again with --accept-new-host-key to trust it and record it in ${target.knownHosts}.`,
      );
  }
}

function connectionError(
  target: SshTarget,
  error: Error & { code?: string; level?: string },
): EnvironmentError | InputError {
  const where = `${target.host}:${target.port}`;
  const message = error.message;
  if (error.code === "ECONNREFUSED")
    return new EnvironmentError(
      `connection refused by ${where}: is sshd running and listening on port ${target.port}?`,
    );
  if (error.code === "ENOTFOUND" || error.code === "EAI_AGAIN")
    return new EnvironmentError(`host not found: ${target.host} (DNS lookup failed); check the host name.`);
  if (error.code === "EHOSTUNREACH" || error.code === "ENETUNREACH")
    return new EnvironmentError(`host ${target.host} is unreachable from here.`);
  if (/handshake|timed out/i.test(message) || error.code === "ETIMEDOUT")
    return new EnvironmentError(
      `no SSH handshake from ${where} within ${target.timeoutSeconds} s (--timeout); is the host up and the port right?`,
    );
  if (/passphrase/i.test(message))
    return new InputError(
      `cannot use the key ${target.identity}: ${message.replace(/^Cannot parse privateKey: /, "")} (set DEPLOY_SSH_PASSPHRASE).`,
    );
  if (/Cannot parse privateKey/i.test(message))
    return new InputError(`cannot read the SSH key ${target.identity}: ${message}.`);
  if (error.level === "client-authentication" || /authentication methods failed/i.test(message))
    return new EnvironmentError(
      `${target.user}@${where} refused every login method we tried (key, agent, password); check the user, its authorized_keys or DEPLOY_PASSWORD.`,
    );
  return new EnvironmentError(`SSH connection to ${where} failed: ${message}`);
}

/**
 * One SSH connection: host key checked against known_hosts, then login. `wanted` settles when
 * the run needs the connection: a host key question waits for it, and if it fails (the run
 * stopped first) the connection is dropped, even half-way through its handshake.
 */
async function openHop(target: SshTarget, privateKey: string | undefined, known: KnownHostEntry[], wanted: Promise<unknown>, sock?: ClientChannel): Promise<NodeSSH> {
  let rejected: { verdict: HostKeyVerdict; presented: string } | undefined;
  let learned: Buffer | undefined;
  const ssh = new NodeSSH();
  // Aborted once the attempt is over: a host key question still waiting for `wanted`, or
  // still unanswered, when the handshake timed out is never asked, or is taken back.
  const over = new AbortController();
  try {
    // The key is passed as text, not as a path: node-ssh then opens the socket at once, so
    // that an abandoned run can close it.
    const connecting = ssh.connect({
      host: target.host,
      port: target.port,
      sock,
      username: target.user,
      privateKey,
      passphrase: target.passphrase,
      password: target.password,
      agent: target.agent,
      // Keys first, as OpenSSH does, and no "none" probe first: one round trip less per login.
      // A password given on purpose comes before the agent, whose socket may be stale.
      authHandler: ["publickey", "password", "agent"],
      readyTimeout: target.timeoutSeconds * 1000,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      // Never a promise: ssh2 calls verify(returnValue), and a pending promise is truthy, so
      // it would accept any key. An answer that must wait (the TTY question) uses verify().
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void): void => {
        const verdict = checkHostKey(known, target.host, target.port, key);
        if (verdict.status === "trusted") return verify(true);
        if (verdict.status === "unknown" && target.acceptNewHostKey) {
          learned = key;
          return verify(true);
        }
        rejected = { verdict, presented: fingerprint(key) };
        if (verdict.status !== "unknown" || !process.stdin.isTTY) return verify(false);
        // As OpenSSH does on a terminal: show the fingerprint and ask, once the run wants the connection.
        // Once the attempt is over (timed out, or the run stopped first and drops the
        // connection), nothing is asked and nothing answered: ssh2 fails on a late verify().
        wanted.then(
          () => {
            if (over.signal.aborted) return;
            askLine(
              `The authenticity of host '${knownHostName(target.host, target.port)}' can't be established.\n` +
                `${keyTypeOf(key)} key fingerprint is ${fingerprint(key)}.\n` +
                "Are you sure you want to continue connecting (yes/no)? ",
              over.signal,
            ).then(
              (answer) => {
                const yes = /^y(es)?$/i.test(answer.trim());
                if (yes) {
                  learned = key;
                  rejected = undefined;
                }
                verify(yes);
              },
              () => undefined,
            );
          },
          () => undefined,
        );
      },
    });
    wanted.catch(() => ssh.connection?.destroy());
    await connecting;
  } catch (error) {
    over.abort();
    ssh.dispose();
    if (rejected) throw hostKeyError(target, rejected.verdict, rejected.presented);
    throw connectionError(target, error as Error);
  }
  if (learned) appendFileSync(target.knownHosts, knownHostsLine(target.host, target.port, learned), { mode: 0o600 });
  // A reset connection emits `error`; unheard, it would crash the process. The `close` that
  // follows fails the command under way with a clear message instead.
  ssh.connection?.on("error", () => undefined);
  return ssh;
}

/** sshd would not open a channel to a unix socket; it does not say why (see Remote.openSocket). */
export class SocketRefused extends EnvironmentError {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`the server refused a channel to ${path}: ${reason}`);
  }
}

/** Every remote command of a run is a channel on this one connection. */
export class Remote {
  /** Remote commands run: the latency cost of a deploy, reported in the JSON summary. */
  roundTrips = 0;

  /**
   * --verbose: every remote command and its output, line by line, on stderr, marked so as not
   * to be taken for ours (never stdin, never the output of a command that reads secrets).
   */
  private readonly trace?: (line: string) => void;

  /**
   * The one place where the values of the server's .env are hidden from whatever comes back:
   * every line streamed, every stderr and stdout returned (but `raw` data), every trace line.
   * Fed by whoever learns them: the probe that reads .env, the deploy that generates secrets.
   */
  readonly secrets = new Redactor();

  private constructor(
    private readonly ssh: NodeSSH,
    readonly target: SshTarget,
    private readonly jump?: NodeSSH,
  ) {
    if (target.verbose) this.trace = (line) => process.stderr.write(`  │ ${line}\n`);
  }

  /**
   * `wanted`, for a connection opened ahead of time: settles when the run needs it. A host key
   * question waits for it (never over another step's output); a failure drops the connection.
   */
  static async connect(target: SshTarget, wanted: Promise<unknown> = Promise.resolve()): Promise<Remote> {
    let key: string | undefined;
    if (target.identity) {
      try {
        key = readFileSync(target.identity, "utf8");
      } catch {
        throw new InputError(`SSH key file not found or unreadable: ${target.identity} (-i, DEPLOY_SSH_KEY).`);
      }
    }
    const known = parseKnownHosts(readKnownHosts(target.knownHosts));
    if (!target.jump) return new Remote(await openHop(target, key, known, wanted), target);
    // ProxyJump: the jump host is checked and logged into like the target, then carries it.
    const hop = { ...target, ...target.jump, jump: undefined };
    const jump = await openHop(hop, key, known, wanted);
    const tunnel = await new Promise<ClientChannel>((resolve, reject) =>
      jump.connection?.forwardOut("127.0.0.1", 0, target.host, target.port, (error, channel) =>
        error ? reject(new EnvironmentError(`the jump host ${hop.host} could not reach ${target.host}:${target.port}: ${error.message}`)) : resolve(channel),
      ),
    ).catch((error) => {
      jump.dispose();
      throw error;
    });
    const ssh = await openHop(target, key, known, wanted, tunnel).catch((error) => {
      jump.dispose();
      throw error;
    });
    return new Remote(ssh, target, jump);
  }

  /** Runs a POSIX sh script on the server. Resolves with its exit code; rejects only if the connection fails. */
  async run(body: Shell, options: RunOptions = {}): Promise<RunResult> {
    const connection = this.ssh.connection;
    if (!connection) throw new EnvironmentError(`the SSH connection to ${this.target.host} is closed.`);
    this.roundTrips += 1;
    const trace = this.trace;
    if (trace) for (const line of body.code.split("\n")) trace(`$ ${this.secrets.redact(line)}`);
    const channel = await new Promise<ClientChannel>((resolve, reject) =>
      connection.exec(shCommand(body), (error, ch) =>
        error ? reject(new EnvironmentError(`the SSH connection to ${this.target.host} was lost (${error.message}).`)) : resolve(ch),
      ),
    );
    // Each stream has its own decoder and partial line; every line shown or handed on is redacted.
    const streams = { stdout: new LineStream(), stderr: new LineStream() };
    const traceOutput = trace && !options.secretOutput ? trace : undefined;
    // Lines are made only for someone to read them: a large answer (a manifest) is not split.
    const readers = [options.onLine, traceOutput].filter((reader) => reader !== undefined);
    const deliver = (lines: string[]) => {
      for (const line of lines) {
        const shown = this.secrets.redact(line);
        for (const reader of readers) reader(shown);
      }
    };
    const stdout: Buffer[] = [];
    let stderr = "";
    channel.on("data", (chunk: Buffer) => {
      stdout.push(chunk);
      if (readers.length > 0) deliver(streams.stdout.push(chunk).lines);
    });
    channel.stderr.on("data", (chunk: Buffer) => {
      const { text, lines } = streams.stderr.push(chunk);
      stderr += text;
      deliver(lines);
    });
    // How the command ended when it has no exit code: said in its stderr, which every message
    // about a failed command shows, so that "exit -1" never stands alone.
    let noExitCode = "the server closed the command's channel without an exit status";
    // The exit status is read from `close`, not `exit`: ssh2 emits `exit` as it parses the
    // packet, which can come in the same read as the exec's confirmation, before this listener
    // exists; `close` waits for the output to be read and carries the same values.
    const closed = new Promise<number>((resolve, reject) => {
      const lost = () => reject(new EnvironmentError(`the SSH connection to ${this.target.host} was lost.`));
      connection.once("close", lost);
      channel.on("close", (exitCode?: number | null, signal?: string) => {
        connection.off("close", lost);
        if (exitCode === null) noExitCode = `the command was killed by ${signal ?? "a signal"}`;
        resolve(typeof exitCode === "number" ? exitCode : -1);
      });
    });
    const { stdin } = options;
    let pipeError: unknown;
    if (stdin === undefined) channel.end();
    else if (typeof stdin === "string" || Buffer.isBuffer(stdin)) channel.end(stdin);
    // A remote command that fails early closes its stdin; its exit code and stderr tell why.
    // But a stream that failed with an error of ours (a project file it could not read) is
    // the cause: the command only saw its input cut.
    else await pipeline(stdin, channel).catch((error) => (pipeError = error));
    const code = await closed;
    deliver(streams.stdout.end().lines);
    const last = streams.stderr.end();
    stderr += last.text;
    if (code === -1) stderr += `${stderr === "" || stderr.endsWith("\n") ? "" : "\n"}(${noExitCode})\n`;
    deliver(last.lines);
    trace?.(`(exit ${code})`);
    if (pipeError && (code <= 0 || pipeError instanceof DeployError)) throw pipeError;
    const answer = Buffer.concat(stdout);
    const env = options.envOf?.(answer);
    if (env !== undefined) this.secrets.addEnv(env);
    return { code, stdout: options.raw ? answer : this.redactBytes(answer), stderr: this.secrets.redact(stderr) };
  }

  /**
   * A byte stream to a unix socket on the server (OpenSSH's direct-streamlocal channel) on this
   * same connection: no command started. sshd answers "open failed" alike when forwarding is
   * disabled, the socket is missing or the user may not open it: SocketRefused, for each.
   */
  async openSocket(path: string): Promise<ClientChannel> {
    const connection = this.ssh.connection;
    if (!connection) throw new EnvironmentError(`the SSH connection to ${this.target.host} is closed.`);
    return new Promise((resolve, reject) =>
      connection.openssh_forwardOutStreamLocal(path, (error, channel) =>
        error ? reject(new SocketRefused(path, error.message.replace(/^\(SSH\) /, ""))) : resolve(channel),
      ),
    );
  }

  /** Output as it came, unless it holds a value to hide: then its text, redacted. */
  private redactBytes(output: Buffer): Buffer {
    if (this.secrets.size === 0) return output;
    const text = output.toString("utf8");
    const shown = this.secrets.redact(text);
    return shown === text ? output : Buffer.from(shown, "utf8");
  }

  close(): void {
    this.ssh.dispose();
    this.jump?.dispose();
  }
}
