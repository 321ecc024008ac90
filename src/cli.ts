#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { type Flags, loadSettings } from "./config/settings.js";
import { runDeploy } from "./deploy/pipeline.js";
import { deploySummary, humanSummary } from "./deploy/report.js";
import { DeployError, ExitCode } from "./errors.js";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};
const collect = (value: string, previous: string[]) => [...previous, value];
const useColor = () => process.stdout.isTTY === true && !process.env.NO_COLOR;

function connectionOptions(command: Command): Command {
  return command
    .option("-H, --host <host>", "host, user@host or an ~/.ssh/config alias (DEPLOY_HOST)")
    .option("-p, --port <port>", "SSH port, default 22 (DEPLOY_PORT)")
    .option("-u, --user <user>", "SSH user (DEPLOY_USER)")
    .option("-i, --identity <file>", "private key; else ssh-agent, else ~/.ssh/id_* (DEPLOY_SSH_KEY)")
    .option("--known-hosts <file>", "known_hosts file, default ~/.ssh/known_hosts (DEPLOY_KNOWN_HOSTS)")
    .option("--accept-new-host-key", "trust a host seen for the first time and record its key")
    .option("-d, --path <dir>", "app folder on the server, default ~/apps/<project> (DEPLOY_PATH)")
    .option("--timeout <seconds>", "SSH handshake timeout, default 20 (DEPLOY_TIMEOUT)")
    .option("--debug", "show stack traces");
}

async function deploy(dir: string | undefined, flags: Flags): Promise<number> {
  const settings = await loadSettings(dir ?? ".", flags, process.env);
  const ctx = await runDeploy(settings, process.env);
  const summary = deploySummary(ctx);
  if (settings.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else process.stdout.write(`${humanSummary(ctx, useColor())}\n`);
  return summary.status === "unhealthy" ? ExitCode.unhealthy : ExitCode.ok;
}

export function program(): Command {
  const root = new Command("deploy-vps")
    .description("Ship a docker-compose project to your own VPS over SSH, in one command.")
    .version(version, "-V, --version")
    .showSuggestionAfterError(true)
    .exitOverride();
  connectionOptions(root.command("deploy [dir]", { isDefault: true }))
    .description(
      "upload the project in DIR (default .), update .env, build and start it, watch for crash loops",
    )
    .option(
      "-f, --file <file>",
      "compose file, repeatable (default compose.yaml, docker-compose.yml, ...)",
      collect,
      [],
    )
    .option("--exclude <glob>", "do not ship matching paths, repeatable (gitignore syntax)", collect, [])
    .option("--env-template <file>", "env template, default .env.example (DEPLOY_ENV_TEMPLATE)")
    .option("--settle <seconds>", "how long to watch for crash loops, default 30 (DEPLOY_SETTLE)")
    .addOption(
      new Option("--compose <version>", "force Compose v1 (docker-compose) or v2 (docker compose)").choices([
        "v1",
        "v2",
      ]),
    )
    .option("--dry-run", "print the plan; change nothing on the server")
    .option("--json", "print one JSON summary on stdout (progress goes to stderr)")
    .addHelpText(
      "after",
      "\nExamples:\n  deploy-vps --host deploy@203.0.113.7\n  deploy-vps ./shop -H vps -d '~/apps/shop' --settle 60\n  deploy-vps --dry-run\n\nExit codes: 0 deployed and healthy, 1 failed, 2 bad usage or input, 3 deployed but a service is failing",
    )
    .action(async (dir: string | undefined, flags: Flags) => {
      process.exitCode = await deploy(dir, flags);
    });
  for (const command of root.commands) command.exitOverride().showSuggestionAfterError(true);
  return root;
}

async function main(argv: string[]): Promise<void> {
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
