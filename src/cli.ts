#!/usr/bin/env node
import { existsSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { deploy } from "./cli/deploy.js";
import { fixCompose } from "./cli/fix-compose.js";
import { monitor } from "./cli/monitor.js";
import { releases } from "./cli/releases.js";
import { rollback } from "./cli/rollback.js";
import { registerInit } from "./init/command.js";
import { registerProxy } from "./cli/proxy.js";
import { registerAudit } from "./cli/audit.js";
import { type Flags, loadSettings } from "./config/settings.js";
import { DeployError, ExitCode, InputError } from "./errors.js";
import { VERSION } from "./version.js";

const collect = (value: string, previous: string[]) => [...previous, value];
const useColor = () => process.stdout.isTTY === true && !process.env.NO_COLOR;

function wholeNumber(name: string) {
  return (value: string) => {
    if (!/^\d+$/.test(value)) throw new InputError(`${name} takes a whole number, got '${value}'.`);
    return Number(value);
  };
}

/**
 * The options every command shares: where the server is and how to log in; and, unless
 * `appFolder` is false (commands about the server rather than one app), which app folder and compose files.
 */
function withConnection(command: Command, { appFolder = true } = {}): Command {
  command
    .option("-H, --host <host>", "host, user@host or an ~/.ssh/config alias (DEPLOY_HOST)")
    .option("-p, --port <port>", "SSH port, default 22 (DEPLOY_PORT)")
    .option("-u, --user <user>", "SSH user (DEPLOY_USER)")
    .option("-i, --identity <file>", "private key; else ssh-agent, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa (DEPLOY_SSH_KEY)")
    .option("--known-hosts <file>", "known_hosts file, default ~/.ssh/known_hosts (DEPLOY_KNOWN_HOSTS)")
    .option("--accept-new-host-key", "trust a host seen for the first time and record its key");
  if (appFolder)
    command
      .option("-d, --path <dir>", "app folder on the server, default ~/apps/<project> (DEPLOY_PATH)")
      .option("-f, --file <file>", "compose file, repeatable (default compose.yaml, docker-compose.yml, ...)", collect, []);
  command.option("--timeout <seconds>", "SSH handshake timeout, default 20 (DEPLOY_TIMEOUT)");
  if (appFolder)
    command.addOption(new Option("--compose <version>", "force Compose v1 (docker-compose) or v2 (docker compose)").choices(["v1", "v2"]));
  return command
    .option("--verbose", "show every remote command and its output (never a secret)")
    .option("-q, --quiet", "show only errors and the final line")
    .option("--debug", "show stack traces");
}

/** Edit distance, for "did you mean" on a mistyped command (commander does it for options). */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length] ?? 0;
}

/** `deploy-vps monitr` reads as a project folder named monitr: when there is none, suggest the command. */
function commandTypo(dir: string | undefined, commands: string[]): InputError | undefined {
  if (!dir || existsSync(dir) || dir.includes("/")) return undefined;
  const best = commands.map((name) => ({ name, d: distance(dir, name) })).sort((x, y) => x.d - y.d)[0];
  return best && best.d <= 2 ? new InputError(`unknown command '${dir}' (did you mean ${best.name}?)`) : undefined;
}

const EXIT_CODES = "Exit codes: 0 ok, 1 failed (network, SSH, server, Docker), 2 bad usage or input, 3 a service is failing";

export function program(): Command {
  const root = new Command("deploy-vps")
    .description("Ship a docker-compose project to your own VPS over SSH, in one command.")
    .version(VERSION, "-V, --version")
    .showSuggestionAfterError(true);
  const settingsOf = (dir: string | undefined, flags: Flags) => loadSettings(dir ?? ".", flags, process.env);
  const run = (work: Promise<number>) =>
    work.then((code) => {
      process.exitCode = code;
    });

  withConnection(root.command("deploy [dir]", { isDefault: true }))
    .description("upload the project in DIR (default .), update .env, build and start it, watch for crash loops")
    .option("--exclude <glob>", "do not ship matching paths, repeatable (gitignore syntax)", collect, [])
    .option("--env-template <file>", "env template, default .env.example (DEPLOY_ENV_TEMPLATE)")
    .option("--settle <seconds>", "how long to watch for crash loops, default 30 (DEPLOY_SETTLE)")
    .option("--dry-run", "print the plan; change nothing on the server")
    .option("--json", "print one JSON summary on stdout (progress goes to stderr)")
    .option("--lock-wait <seconds>", "wait this long for another deploy to this folder to finish (DEPLOY_LOCK_WAIT)")
    .option("--force-unlock", "break another deploy's lock on this folder (says whose)")
    .option("--full", "send every file, not only those changed since the live release")
    .addHelpText(
      "after",
      `\nExamples:\n  deploy-vps --host deploy@203.0.113.7\n  deploy-vps ./shop -H vps -d '~/apps/shop' --settle 60\n  deploy-vps --dry-run\n\n${EXIT_CODES}`,
    )
    .action((dir: string | undefined, flags: Flags) => {
      const typo = commandTypo(dir, root.commands.flatMap((c) => [c.name(), ...c.aliases()]));
      if (typo) throw typo;
      return run(settingsOf(dir, flags).then((s) => deploy(s, useColor())));
    });

  withConnection(root.command("monitor-vps [dir]").alias("monitor"))
    .description("is everything fine? services, health, restarts, CPU and memory, host load, memory and disk, logs")
    .option("--logs <lines>", "log lines of each flagged service, default 10", wholeNumber("--logs"), 10)
    .option("--all-logs", "show the logs of every service, not only the flagged ones")
    .option("--watch <seconds>", "refresh every SECONDS", wholeNumber("--watch"))
    .option("--json", "print the same data as one JSON document")
    .addHelpText("after", `\nExamples:\n  deploy-vps monitor-vps -H vps\n  deploy-vps monitor -H vps --watch 5\n  deploy-vps monitor -H vps -d /srv/legacy-app --json   # a stack deployed by hand\n\n${EXIT_CODES}`)
    .action((dir: string | undefined, flags: Flags & { logs: number; allLogs?: boolean; watch?: number }) =>
      run(settingsOf(dir, flags).then((s) => monitor(s, { logs: flags.logs, allLogs: flags.allLogs ?? false, watch: flags.watch, color: useColor() }))),
    );

  withConnection(root.command("fix-compose [dir]"))
    .description("pin built images to local tags with pull_policy: never on the server's compose files; check its .env")
    .option("--local", "fix the local compose files instead of the server's")
    .option("--dry-run", "show the diff; write nothing")
    .addHelpText("after", `\nExamples:\n  deploy-vps fix-compose -H vps -d /srv/shop --dry-run\n  deploy-vps fix-compose --local\n\n${EXIT_CODES}`)
    .action((dir: string | undefined, flags: Flags & { local?: boolean }) =>
      run(settingsOf(dir, flags).then((s) => fixCompose(s, { local: flags.local ?? false, dryRun: flags.dryRun ?? false }))),
    );

  withConnection(root.command("rollback [dir]"))
    .description("go back to the previous release (or --to RELEASE): files restored, rebuilt, restarted, watched; .env and data untouched")
    .option("--to <release>", "the release to go back to (see `deploy-vps releases`)")
    .option("--lock-wait <seconds>", "wait this long for another deploy to this folder to finish (DEPLOY_LOCK_WAIT)")
    .option("--force-unlock", "break another deploy's lock on this folder (says whose)")
    .option("--settle <seconds>", "how long to watch for crash loops, default 30 (DEPLOY_SETTLE)")
    .option("--json", "print one JSON summary on stdout")
    .addHelpText("after", `\nExamples:\n  deploy-vps rollback -H vps\n  deploy-vps rollback -H vps --to 20261123T193637376Z\n\n${EXIT_CODES}`)
    .action((dir: string | undefined, flags: Flags & { to?: string }) =>
      run(settingsOf(dir, flags).then((s) => rollback(s, flags.to, useColor()))),
    );

  withConnection(root.command("releases [dir]"))
    .description("list the releases kept on the server, newest first, the live one marked")
    .option("--log", "also show the server's deploy log")
    .option("--json", "print them as one JSON document")
    .addHelpText("after", `\nExamples:\n  deploy-vps releases -H vps\n  deploy-vps releases -H vps --log\n\n${EXIT_CODES}`)
    .action((dir: string | undefined, flags: Flags & { log?: boolean }) =>
      run(settingsOf(dir, flags).then((s) => releases(s, { log: flags.log }))),
    );

  registerInit(root, run);
  registerProxy(root, run, (command) => withConnection(command, { appFolder: false }), EXIT_CODES);
  registerAudit(root, run, (command) => withConnection(command, { appFolder: false }), EXIT_CODES);

  const strict = (command: Command) => {
    // Commander's usage errors come out as our one line: "deploy-vps: unknown option … (did you mean …?)".
    command.exitOverride().showSuggestionAfterError(true).configureOutput({
      outputError: (message, write) => write(`deploy-vps: ${message.replace(/^error: /, "").replace(/\s*\n\s*/g, " ").trim()}\n`),
    });
    for (const sub of command.commands) strict(sub);
  };
  strict(root);
  return root;
}

async function main(argv: string[]): Promise<void> {
  // `deploy-vps --help | head`: a reader that leaves is no error.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  });
  const debug = argv.includes("--debug");
  try {
    await program().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; every other parse error is bad usage, already printed.
      process.exitCode = error.exitCode === 0 ? ExitCode.ok : ExitCode.input;
      return;
    }
    if (error instanceof DeployError) {
      process.stderr.write(`deploy-vps: ${error.message}\n`);
      if (debug) process.stderr.write(`${error.stack}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    process.stderr.write(
      `deploy-vps: unexpected error (a bug: please report it with this trace)\n${(error as Error)?.stack ?? String(error)}\n`,
    );
    process.exitCode = ExitCode.failed;
  }
}

await main(process.argv);
