import { appendFile, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import { excludeRule, parseIgnoreFile } from "../archive/exclude.js";
import { walkProject } from "../archive/walk.js";
import { loadComposeFiles } from "../compose/files.js";
import { requiredVariables } from "../compose/variables.js";
import { readOptional } from "../config/paths.js";
import { CONFIG_FILE, parseConfigFile } from "../config/settings.js";
import { ExitCode, InputError } from "../errors.js";
import { parseEnvFile } from "../secrets/env-file.js";
import { mergeEnv, missingVariables } from "../secrets/merge.js";
import { quote } from "../ssh/quote.js";
import { buildContexts, bindMounts } from "./mounts.js";
import { configYaml, heavyFolders, planEnvTemplate } from "./plan.js";

export interface InitOptions {
  host?: string;
  user?: string;
  /** As commander gives it; checked here. */
  port?: string;
  path?: string;
  /** Write without asking; an existing deploy-vps.yml is still never replaced. */
  yes: boolean;
  /** Show the files, write nothing. */
  dryRun?: boolean;
}

export interface InitIO {
  /** Asks a y/N question; false for anything but yes. */
  confirm: (question: string) => Promise<boolean>;
  /** Prints one piece of output (a newline is added). */
  out: (text: string) => void;
}

function portNumber(port: string | undefined): number | undefined {
  if (port === undefined) return undefined;
  const n = Number(port);
  if (!/^\d+$/.test(port) || n < 1 || n > 65535)
    throw new InputError(`--port must be a whole number from 1 to 65535, got '${port}'.`);
  return n;
}

const asList = (value: unknown): string[] =>
  Array.isArray(value)
    ? value.map(String)
    : typeof value === "string"
      ? value
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : [];

/** Writes a file that must not exist yet: a file that appeared meanwhile is not overwritten. */
async function create(path: string, name: string, text: string): Promise<void> {
  try {
    await writeFile(path, text, { flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      throw new InputError(`${name} appeared while init was running; it was not overwritten. Run init again.`);
    throw error;
  }
}

const show = (text: string) => text.replace(/\n$/, "");

/**
 * `deploy-vps init [DIR]`: plans deploy-vps.yml and the env template from the compose files and the
 * tree, shows them, asks, writes. Never replaces deploy-vps.yml without its own yes (never with
 * --yes), and only appends to an existing template. 0 done (or nothing to do), 1 the user said no.
 */
export async function init(dir: string, options: InitOptions, io: InitIO): Promise<number> {
  const projectDir = resolve(dir);
  const info = await stat(projectDir).catch(() => undefined);
  if (!info) throw new InputError(`project folder not found: ${projectDir}`);
  if (!info.isDirectory()) throw new InputError(`not a folder: ${projectDir}; give the project folder.`);
  const port = portNumber(options.port);

  // An existing deploy-vps.yml may already name the compose files, the template and exclusions: use them.
  const configPath = join(projectDir, CONFIG_FILE);
  const configBefore = await readOptional(configPath);
  const configured = configBefore === undefined ? undefined : parseConfigFile(CONFIG_FILE, configBefore);
  const setting = (key: string) => configured?.get(key)?.value;
  const templateSetting = setting("envTemplate");
  const templateName = typeof templateSetting === "string" && templateSetting !== "" ? templateSetting : ".env.example";

  const compose = await loadComposeFiles(projectDir, asList(setting("files")));
  const templatePath = join(projectDir, templateName);
  const templateBefore = await readOptional(templatePath);
  const existingTemplate =
    templateBefore === undefined ? undefined : parseEnvFile(templateName, templateBefore, true);
  const ignoreFile = await readOptional(join(projectDir, ".deployignore"));
  const patterns = [...asList(setting("exclude")), ...(ignoreFile ? parseIgnoreFile(ignoreFile) : [])];
  const tree = await walkProject(projectDir, excludeRule({ patterns, envTemplate: templateName }));

  const exclude = heavyFolders(tree, {
    mounts: compose.flatMap((file) => bindMounts(file.text)),
    contexts: compose.flatMap((file) => buildContexts(file.text)),
  });
  const configText = configYaml({
    host: options.host,
    user: options.user,
    port,
    path: options.path,
    files: compose.map((file) => file.path),
    exclude,
  });
  const env = planEnvTemplate(compose, existingTemplate);

  // Show everything first.
  const configState = configBefore === undefined ? "new" : configBefore === configText ? "same" : "exists";
  if (configState === "new") io.out(`${CONFIG_FILE} (new):\n\n${show(configText)}\n`);
  else if (configState === "same") io.out(`${CONFIG_FILE} exists and is already what init would write.\n`);
  else io.out(`${CONFIG_FILE} exists. What init would write instead:\n\n${show(configText)}\n`);
  const envState = existingTemplate
    ? env.added === ""
      ? "complete"
      : "append"
    : env.keys.length === 0
      ? "none"
      : "new";
  if (envState === "new") io.out(`${templateName} (new):\n\n${show(env.text)}\n`);
  else if (envState === "append")
    io.out(`${templateName} exists; its lines are kept and these are appended:\n${show(env.added)}\n`);
  else if (envState === "complete")
    io.out(`${templateName} exists and already has every variable the compose files use.\n`);
  else io.out(`The compose files use no variables: no ${templateName} is needed.\n`);

  if (options.dryRun) {
    io.out("Dry run: nothing written.");
    return ExitCode.ok;
  }

  const fresh = [
    ...(configState === "new" ? [CONFIG_FILE] : []),
    ...(envState === "new" ? [templateName] : envState === "append" ? [`the additions to ${templateName}`] : []),
  ];
  let declined = false;
  let writeFresh = fresh.length > 0;
  if (writeFresh && !options.yes) {
    writeFresh = await io.confirm(`Write ${fresh.join(" and ")}? [y/N]`);
    declined ||= !writeFresh;
  }
  let replaceConfig = false;
  if (configState === "exists") {
    if (options.yes) {
      io.out(`${CONFIG_FILE} exists: kept (--yes never replaces it; run init without --yes to be asked).`);
    } else if (!declined) {
      replaceConfig = await io.confirm(`${CONFIG_FILE} already exists. Replace it with the one above? [y/N]`);
      if (!replaceConfig) {
        io.out(`${CONFIG_FILE} kept as it was.`);
        declined ||= fresh.length === 0;
      }
    }
  }
  if (declined && !replaceConfig && !writeFresh) {
    io.out("Nothing written.");
    return 1;
  }

  const written: string[] = [];
  if (writeFresh && configState === "new") {
    await create(configPath, CONFIG_FILE, configText);
    written.push(CONFIG_FILE);
  }
  if (replaceConfig) {
    await writeFile(configPath, configText);
    written.push(`${CONFIG_FILE} (replaced)`);
  }
  if (writeFresh && envState === "new") {
    await create(templatePath, templateName, env.text);
    written.push(templateName);
  }
  if (writeFresh && envState === "append" && templateBefore !== undefined) {
    // Appending leaves the user's bytes (values, quoting, line ends) exactly as they were.
    const crlf = templateBefore.includes("\r\n");
    const lead = templateBefore === "" || templateBefore.endsWith("\n") ? "" : "\n";
    const added = crlf ? env.added.replace(/\n/g, "\r\n") : env.added;
    await appendFile(templatePath, (crlf ? lead.replace(/\n/g, "\r\n") : lead) + added);
    written.push(`${templateName} (${env.keys.length} key${env.keys.length === 1 ? "" : "s"} appended)`);
  }
  io.out(written.length > 0 ? `Wrote ${written.join(", ")}.` : "Nothing to write.");

  // What a deploy would still stop on, by the deploy's own check.
  const templateNow = writeFresh && (envState === "new" || envState === "append") ? env.text : (templateBefore ?? "");
  const template = parseEnvFile(templateName, templateNow, true);
  const values = mergeEnv({ template, provided: new Map(), generate: () => "generated" }).values;
  const missing = missingVariables(requiredVariables(compose.map((file) => file.text)), values);
  const command = dir === "." ? "deploy-vps" : `deploy-vps ${quote(dir)}`;
  const hostKnown = options.host !== undefined || setting("host") !== undefined;
  const steps = [
    ...(hostKnown ? [] : [`set host: in ${CONFIG_FILE} (or add -H user@host below)`]),
    ...(missing.length > 0
      ? [`give ${missing.join(", ")} a value: in ${templateName}, in your shell, or in a git-ignored .env.deploy`]
      : []),
    `${command} --dry-run    # what would be shipped, generated and rewritten`,
    `${command}              # deploy`,
  ];
  io.out(`\nNext:\n${steps.map((step, i) => `  ${i + 1}. ${step}`).join("\n")}`);
  return ExitCode.ok;
}

/** A y/N question on stderr; Ctrl-C or Ctrl-D is a no. */
function askYesNo(question: string): Promise<boolean> {
  return new Promise((done) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    let answer: boolean | undefined;
    rl.on("SIGINT", () => {
      process.stderr.write("\n");
      rl.close();
    });
    rl.on("close", () => done(answer ?? false));
    rl.question(`${question} `, (text) => {
      answer = /^y(es)?$/i.test(text.trim());
      rl.close();
    });
  });
}

/** stdout for the plan, a y/N prompt on stderr when stdin is a terminal, else "no" with a hint. */
export function terminalIO(): InitIO {
  return {
    out: (text) => {
      process.stdout.write(`${text}\n`);
    },
    confirm: async (question) => {
      if (process.stdin.isTTY === true) return askYesNo(question);
      process.stderr.write(
        `deploy-vps: not asked "${question.replace(/\s*\[y\/N\]$/, "")}": stdin is not a terminal; pass --yes to write the files.\n`,
      );
      return false;
    },
  };
}

/** Adds `init [dir]` to the program; `run` sets the exit code from the returned promise. */
export function registerInit(program: Command, run: (work: Promise<number>) => Promise<void>): Command {
  return program
    .command("init [dir]")
    .description(
      "write a deploy-vps.yml and an .env.example listing every compose variable, for the project in DIR (default .), after showing them and asking",
    )
    .option("-H, --host <host>", "host or user@host, written as `host:`")
    .option("-u, --user <user>", "SSH user, written as `user:`")
    .option("-p, --port <port>", "SSH port, written as `port:`")
    .option("-d, --path <dir>", "app folder on the server, written as `path:`")
    .option("-y, --yes", "write without asking (an existing deploy-vps.yml is still never replaced)")
    .option("--dry-run", "show the files; write nothing")
    .addHelpText(
      "after",
      "\nExamples:\n  deploy-vps init -H deploy@203.0.113.7\n  deploy-vps init ./shop -H vps -d '~/apps/shop' --yes\n  deploy-vps init --dry-run\n\n" +
        "An existing .env.example keeps its lines: only the variables it lacks are appended.\n" +
        "Exit codes: 0 written (or nothing to write), 1 not confirmed, 2 bad usage or input",
    )
    .action((dir: string | undefined, flags: Omit<InitOptions, "yes"> & { yes?: boolean }) =>
      run(init(dir ?? ".", { ...flags, yes: flags.yes ?? false }, terminalIO())),
    );
}
