/**
 * `deploy-vps proxy …`: install the runtime proxy on a server and drive it through its control
 * socket, reached over the SSH connection itself (a unix socket, never a TCP port).
 */
import type { Command } from "commander";
import { type Flags, loadSettings, type Settings } from "../config/settings.js";
import type { Dial } from "../docker/transport.js";
import { EnvironmentError, ExitCode, InputError } from "../errors.js";
import { controlCall, controlStream } from "../proxy/control-client.js";
import { type HostFacts, DEFAULT_IMAGE, installProxy, probeHost, proxyPaths, readConfigUpload, readDependenciesUpload } from "../proxy/install.js";
import { checkHostName, checkListen, nginxBlock } from "../proxy/nginx-block.js";
import { DEFAULT_ADMIN, DEFAULT_LISTEN, parseAddress, type ServeFlags, serveOptions } from "../proxy/serve-options.js";
import { isFailedAnswer, isStatusDocument, type StatusDocument, type WakePlan } from "../proxy/status.js";
import { renderFailure, renderPlan, renderStatus } from "../proxy/status-render.js";
import { Remote, SocketRefused } from "../ssh/connection.js";
import { sshTarget } from "../ssh/login.js";

/** How long `install` waits for a (re)started daemon to answer on its control socket. */
const DAEMON_START_SECONDS = 30;
const STATUS_TIMEOUT_MS = 15_000;

/** A connection to a server with the proxy's facts (one probe) and a way to its control socket. */
interface ProxyHost {
  settings: Settings;
  remote: Remote;
  facts: HostFacts;
  dial: Dial;
}

/** sshd answers "open failed" alike for a missing socket and a forbidden forwarding: the probe tells them apart. */
function controlDial(remote: Remote, host: string, facts: HostFacts): Dial {
  const socket = proxyPaths(facts.home).socket;
  return () =>
    remote.openSocket(socket).catch((error: unknown) => {
      if (!(error instanceof SocketRefused)) throw error;
      if (!facts.socket) throw new EnvironmentError(`the proxy is not installed on ${host} (deploy-vps proxy install -H ${host}).`);
      throw new EnvironmentError(
        `the server refused a channel to the proxy's control socket ${socket} (${error.reason}): either sshd forbids it (AllowStreamLocalForwarding no, or DisableForwarding yes, in sshd_config) or the daemon is not running (deploy-vps proxy install -H ${host}).`,
      );
    });
}

async function withProxyHost<T>(flags: Flags, work: (host: ProxyHost) => Promise<T>): Promise<T> {
  const settings = await loadSettings(".", flags, process.env);
  const remote = await Remote.connect(await sshTarget(settings));
  try {
    const facts = await probeHost(remote);
    return await work({ settings, remote, facts, dial: controlDial(remote, settings.host ?? "", facts) });
  } finally {
    remote.close();
  }
}

async function readStatus(dial: Dial): Promise<StatusDocument> {
  const { status, body } = await controlCall(dial, "GET", "/services", STATUS_TIMEOUT_MS);
  if (status !== 200 || !isStatusDocument(body)) throw new EnvironmentError(`the proxy answered GET /services with HTTP ${status}: ${JSON.stringify(body).slice(0, 200)}`);
  return body;
}

/** A daemon just (re)started: its status, once its control socket answers. */
async function awaitDaemon(remote: Remote, host: string, facts: HostFacts): Promise<StatusDocument> {
  const dial = controlDial(remote, host, { ...facts, socket: true });
  const deadline = Date.now() + DAEMON_START_SECONDS * 1000;
  for (;;) {
    try {
      return await readStatus(dial);
    } catch (error) {
      if (Date.now() > deadline)
        throw new EnvironmentError(
          `the proxy did not answer on its control socket within ${DAEMON_START_SECONDS} s (${error instanceof Error ? error.message : String(error)}); see deploy-vps monitor-vps -H ${host} -d ~/apps/deploy-vps-proxy.`,
        );
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

const print = (text: string) => process.stdout.write(`${text}\n`);
const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));
const serviceName = (name: string) => encodeURIComponent(name);

/** What a command prints and exits with, once the daemon answered. */
export interface CallOutcome {
  code: number;
  out?: string;
  err?: string;
}

/**
 * A wake or sleep answered: ready or asleep (0), a failed start with the container to blame and
 * its last log lines (3), an unknown name (the daemon's 404: bad input, 2), else the server's fault (1).
 */
export function callOutcome(name: string, status: number, body: unknown, done: string): CallOutcome {
  if (status === 200) return { code: ExitCode.ok, out: done };
  // 422: a wake that cannot be planned (a dependency cycle, a dependency that does not exist).
  if (status === 404 || status === 422) throw new InputError(typeof body === "object" && body !== null && "error" in body ? String(body.error) : `no service named ${name}`);
  if (isFailedAnswer(body)) return { code: ExitCode.unhealthy, err: renderFailure(name, body) };
  if (status === 409 && typeof body === "object" && body !== null && "error" in body) throw new EnvironmentError(String(body.error));
  throw new EnvironmentError(`the proxy answered HTTP ${status}: ${JSON.stringify(body).slice(0, 200)}`);
}

function finish(outcome: CallOutcome): number {
  if (outcome.out !== undefined) print(outcome.out);
  if (outcome.err !== undefined) process.stderr.write(`${outcome.err}\n`);
  return outcome.code;
}

interface InstallFlags extends Flags {
  image?: string;
  config?: string;
  dependencies?: string;
  systemd?: boolean;
  listen?: string;
  admin?: string;
}

export function registerProxy(
  program: Command,
  run: (work: Promise<number>) => Promise<void>,
  withConnection: (command: Command) => Command,
  exitCodes: string,
): Command {
  const proxy = program
    .command("proxy")
    .description("the runtime proxy: stacks start on their first request and stop when idle")
    .addHelpText("after", `\nExamples:\n  deploy-vps proxy install -H vps\n  deploy-vps proxy status -H vps\n  deploy-vps proxy nginx docs.example.com\n\n${exitCodes}`);

  withConnection(proxy.command("install"))
    .description("put the proxy's daemon on the server and start it (idempotent; upgrades in place), then show its status")
    .option("--image <image>", `the daemon container's Node image, default ${DEFAULT_IMAGE} (DEPLOY_PROXY_IMAGE)`)
    .option("--config <file>", "upload this config file (the seed's config.json, or the same in YAML), checked first")
    .option("--dependencies <file>", "upload this dependencies file (the seed's dependencies.json, or the same in YAML), checked first")
    .option("--systemd", "run the daemon as a systemd user unit on the server's own node (20.19+), not in a container")
    .option("--listen <address>", `proxied traffic, default ${DEFAULT_LISTEN} (DEPLOY_PROXY_LISTEN)`)
    .option("--admin <address>", `/metrics and /api/services, default ${DEFAULT_ADMIN} (DEPLOY_PROXY_ADMIN)`)
    .addHelpText("after", `\nExamples:\n  deploy-vps proxy install -H vps\n  deploy-vps proxy install -H vps --config config.json\n  deploy-vps proxy install -H vps --dependencies dependencies.json\n  deploy-vps proxy install -H vps --systemd --listen 127.0.0.1:9000\n\n${exitCodes}`)
    .action((flags: InstallFlags) =>
      run(
        (async () => {
          // Everything local is checked before anything on the server changes.
          const options = {
            image: flags.image ?? process.env.DEPLOY_PROXY_IMAGE ?? DEFAULT_IMAGE,
            listen: parseAddress("--listen", flags.listen ?? process.env.DEPLOY_PROXY_LISTEN ?? DEFAULT_LISTEN),
            admin: parseAddress("--admin", flags.admin ?? process.env.DEPLOY_PROXY_ADMIN ?? DEFAULT_ADMIN),
            config: flags.config === undefined ? undefined : await readConfigUpload(flags.config),
            dependencies: flags.dependencies === undefined ? undefined : await readDependenciesUpload(flags.dependencies),
            systemd: flags.systemd ?? false,
          };
          return withProxyHost(flags, async ({ settings, remote, facts }) => {
            const host = settings.host ?? "";
            const outcome = await installProxy(remote, settings, facts, options);
            if (outcome.way === "compose" && outcome.status === "unhealthy") {
              process.stderr.write(`${outcome.summary}\nThe proxy's daemon is not running on ${host}: its container fails (is --image a Node 20 image?).\n`);
              return ExitCode.unhealthy;
            }
            const doc = await awaitDaemon(remote, host, facts);
            const how = outcome.way === "systemd" ? "as the systemd user unit deploy-vps-proxy.service" : outcome.unchanged ? "unchanged" : "in container deploy-vps-proxy";
            print(`Proxy installed on ${host} (${how}), listening on ${options.listen.host}:${options.listen.port}.`);
            print(renderStatus(host, doc));
            return ExitCode.ok;
          });
        })(),
      ),
    );

  withConnection(proxy.command("status"))
    .description("every proxied service: hosts, mode, state, idle time left, last start, memory now and freed")
    .option("--json", "print the daemon's status document as it came")
    .addHelpText("after", `\nExamples:\n  deploy-vps proxy status -H vps\n  deploy-vps proxy status -H vps --json\n\n${exitCodes}`)
    .action((flags: Flags) =>
      run(
        withProxyHost(flags, async ({ settings, dial }) => {
          const doc = await readStatus(dial);
          print(flags.json ? JSON.stringify(doc, null, 2) : renderStatus(settings.host ?? "", doc));
          return ExitCode.ok;
        }),
      ),
    );

  withConnection(proxy.command("wake <name>"))
    .description("start a service now, as its first request would, and return once it is ready")
    .option("--dry-run", "print what would start; start nothing")
    .option("--json", "print the daemon's answer as JSON")
    .addHelpText("after", `\nExamples:\n  deploy-vps proxy wake shop -H vps\n  deploy-vps proxy wake shop -H vps --dry-run --json\n\n${exitCodes}`)
    .action((name: string, flags: Flags) =>
      run(
        withProxyHost(flags, async ({ dial }) => {
          const { status, body } = await controlCall(dial, "POST", `/services/${serviceName(name)}/wake${flags.dryRun ? "?dry-run=1" : ""}`);
          if (flags.json) {
            printJson(body);
            return status === 200 ? ExitCode.ok : status === 404 || status === 422 ? ExitCode.input : isFailedAnswer(body) ? ExitCode.unhealthy : ExitCode.failed;
          }
          if (flags.dryRun && status === 200) {
            print(renderPlan(body as WakePlan));
            return ExitCode.ok;
          }
          const ms = (body as { ms?: unknown } | null)?.ms;
          return finish(callOutcome(name, status, body, `${name} is ready${typeof ms === "number" ? ` (${(ms / 1000).toFixed(1)} s)` : ""}.`));
        }),
      ),
    );

  withConnection(proxy.command("sleep <name>"))
    .description("stop a service now (gracefully) and return once it is stopped")
    .addHelpText("after", `\nExamples:\n  deploy-vps proxy sleep shop -H vps\n\n${exitCodes}`)
    .action((name: string, flags: Flags) =>
      run(
        withProxyHost(flags, async ({ dial }) => {
          const { status, body } = await controlCall(dial, "POST", `/services/${serviceName(name)}/sleep`);
          return finish(callOutcome(name, status, body, `${name} is asleep.`));
        }),
      ),
    );

  proxy
    .command("nginx <hosts...>")
    .description("print the nginx server block that sends HOSTS to the proxy (offline: nothing is asked of a server)")
    .option("--listen <port>", "nginx's listen: a port or ADDRESS:PORT", "80")
    .option("--proxy <address>", `where the proxy listens, default ${DEFAULT_LISTEN} (DEPLOY_PROXY_LISTEN)`)
    .addHelpText("after", `\nExamples:\n  deploy-vps proxy nginx docs.example.com www.docs.example.com\n  deploy-vps proxy nginx '*.example.com' --listen 127.0.0.1:8080 > /etc/nginx/conf.d/proxy.conf\n\n${exitCodes}`)
    .action((hosts: string[], flags: { listen: string; proxy?: string }) => {
      const names = hosts.map(checkHostName);
      const proxyAddress = parseAddress("--proxy", flags.proxy ?? process.env.DEPLOY_PROXY_LISTEN ?? DEFAULT_LISTEN);
      print(nginxBlock(names, checkListen(flags.listen), proxyAddress).trimEnd());
      return run(Promise.resolve(ExitCode.ok));
    });

  withConnection(proxy.command("logs"))
    .description("the daemon's log lines (JSON lines), and with -f the new ones as they come, until Ctrl-C")
    .option("-f, --follow", "keep printing new lines")
    .option("--lines <n>", "how many past lines, default 200", "200")
    .addHelpText("after", `\nExamples:\n  deploy-vps proxy logs -H vps\n  deploy-vps proxy logs -H vps -f --lines 20\n\n${exitCodes}`)
    .action((flags: Flags & { follow?: boolean; lines: string }) => {
      if (!/^\d+$/.test(flags.lines)) throw new InputError(`--lines takes a whole number, got '${flags.lines}'.`);
      return run(
        withProxyHost(flags, async ({ dial }) => {
          await controlStream(dial, `/logs?lines=${flags.lines}${flags.follow ? "&follow=1" : ""}`, (chunk) => process.stdout.write(chunk));
          return ExitCode.ok;
        }),
      );
    });

  proxy
    .command("serve")
    .description("the daemon itself (what install runs on the server)")
    .option("--listen <address>", `proxied traffic, default ${DEFAULT_LISTEN} (DEPLOY_PROXY_LISTEN)`)
    .option("--admin <address>", `/metrics and /api/services, default ${DEFAULT_ADMIN} (DEPLOY_PROXY_ADMIN)`)
    .option("--state <dir>", "state folder (holds the control socket), default ~/.local/state/deploy-vps-proxy")
    .option("--config <file>", "config file (config.json or YAML)")
    .option("--dependencies <file>", "the seed's dependencies file (dependencies.json or YAML): wake chains for unlabelled stacks")
    .option("--docker-socket <path>", "the Docker Engine's socket, default /var/run/docker.sock")
    .addHelpText("after", `\nExamples:\n  deploy-vps proxy serve\n  deploy-vps proxy serve --listen 127.0.0.1:9000 --state /tmp/proxy-state\n\n${exitCodes}`)
    // Loaded only here: every other command would pay for the daemon's modules at start-up.
    .action((flags: ServeFlags) => run(import("../proxy/serve.js").then(({ serve }) => serve(serveOptions(flags))).then(() => ExitCode.ok)));

  return proxy;
}
