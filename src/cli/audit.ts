/**
 * `deploy-vps audit`: nginx, the runtime proxy and Docker checked against each other, read in one
 * round trip; `--fix` sends bypassing sites through the proxy in a second one.
 */
import type { Command } from "commander";
import { type AuditVerdict, auditVerdict, isFinding, listensOn } from "../audit/classify.js";
import { fixInput, planFix } from "../audit/fix.js";
import { type AuditAnswer, auditScript, DEFAULT_NGINX_CONF, parseAuditAnswer } from "../audit/gather.js";
import { auditJson, auditMarkdown, type AuditReport, type AuditSources, auditText, type SourceReading } from "../audit/render.js";
import { type Flags, loadSettings, type Settings } from "../config/settings.js";
import { DeployError, EnvironmentError, ExitCode, InputError } from "../errors.js";
import { type LoadedNginx, loadNginx } from "../nginx/load.js";
import { type Site, nginxSites } from "../nginx/sites.js";
import { type ProxyConfig, parseProxyConfig } from "../proxy/config-file.js";
import { type DependenciesFile, parseDependenciesFile } from "../proxy/dependencies-file.js";
import { PROXY_PROJECT } from "../proxy/install.js";
import { type Address, DEFAULT_LISTEN, formatAddress, parseAddress } from "../proxy/serve-options.js";
import { remoteScript } from "../remote/script.js";
import { Remote } from "../ssh/connection.js";
import { sshTarget } from "../ssh/login.js";

interface AuditFlags extends Flags {
  markdown?: boolean;
  fix?: boolean;
  nginxConf?: string;
  proxyConfig?: string;
  proxy?: string;
}

interface AuditOptions {
  nginxConf: string;
  proxyConfig?: string;
  proxy: Address;
}

/** An nginx log line's reason, without its `2026/12/01 02:40:22 [emerg] 1781#1781: ` prefix. */
function withoutLogPrefix(line: string): string {
  return line.replace(/^.*\[emerg\] [\d#]+: /, "");
}

export function registerAudit(program: Command, run: (work: Promise<number>) => Promise<void>, withConnection: (command: Command) => Command, exitCodes: string): void {
  withConnection(program.command("audit"))
    .description("check nginx, the runtime proxy and Docker against each other: what bypasses the proxy, what no site reaches, what runs for nothing")
    .option("--json", "print the rows and the sources as one JSON document")
    .option("--markdown", "print the services table for your docs (what the seed's sync-autostart-config.sh wrote), from what runs")
    .option("--fix", "send bypassing sites through the proxy and write sites for routes no site reaches (files backed up, nginx -t, then reload)")
    .option("--nginx-conf <file>", `nginx's main file on the server, default ${DEFAULT_NGINX_CONF}`)
    .option("--proxy-config <file>", "audit this config file on the server (the seed's config.json) instead of the installed proxy's")
    .option("--proxy <address>", `where the proxy listens, default ${DEFAULT_LISTEN} (DEPLOY_PROXY_LISTEN)`)
    .addHelpText(
      "after",
      `\nExamples:\n  deploy-vps audit -H vps\n  deploy-vps audit -H vps --markdown > docs/services.md\n  deploy-vps audit -H vps --fix\n  deploy-vps audit -H vps --proxy-config /opt/docker-autostart/config.json --proxy 127.0.0.1:8890\n\nA site nginx sends straight to its app on purpose: a line "# deploy-vps: direct" in its server block,\nor its host or project in the proxy config's "direct" list.\n\n${exitCodes}; audit: 3 findings, 1 a source could not be read`,
    )
    .action((flags: AuditFlags) => {
      const options = auditOptions(flags);
      return run(loadSettings(".", flags, process.env).then((settings) => audit(settings, options, flags)));
    });
}

/** Everything local is checked before the server is asked anything. */
function auditOptions(flags: AuditFlags): AuditOptions {
  const nginxConf = flags.nginxConf ?? DEFAULT_NGINX_CONF;
  if (!nginxConf.startsWith("/")) throw new InputError(`--nginx-conf takes an absolute path on the server, got '${nginxConf}'.`);
  if (flags.json && flags.markdown) throw new InputError("--json and --markdown print two different documents: choose one.");
  return {
    nginxConf,
    proxy: parseAddress("--proxy", flags.proxy ?? process.env.DEPLOY_PROXY_LISTEN ?? DEFAULT_LISTEN),
    ...(flags.proxyConfig === undefined ? {} : { proxyConfig: flags.proxyConfig }),
  };
}

async function audit(settings: Settings, options: AuditOptions, flags: AuditFlags): Promise<number> {
  const host = settings.host ?? "";
  const remote = await Remote.connect(await sshTarget(settings));
  try {
    let seen = await look(remote, options);
    if (flags.fix && seen.plan.changes.length > 0) {
      refuseUnsafeFix(seen, options);
      const backups = await applyFix(remote, options, seen);
      process.stderr.write(`nginx on ${host}: ${seen.plan.changes.length} file(s) changed; nginx -t passed; reloaded.\n`);
      for (const backup of backups) process.stderr.write(`  backup: ${backup}\n`);
      seen = await look(remote, options);
    } else if (flags.fix) {
      process.stderr.write(`Nothing for --fix to change on ${host}.\n`);
    }
    const shown: AuditReport = { ...seen.report, fixes: flags.fix ? [] : seen.report.fixes, roundTrips: remote.roundTrips };
    if (flags.json) process.stdout.write(`${JSON.stringify(auditJson(shown), null, 2)}\n`);
    else if (flags.markdown) process.stdout.write(auditMarkdown(shown));
    else process.stdout.write(`${auditText(shown)}\n`);
    // A source read in part (nginx -T refused, a daemon not answering) is one not read: what was
    // read instead is in the report, and the exit code says the verdicts may be incomplete.
    const unread = Object.entries(shown.sources).filter(([, reading]) => reading.state !== "read");
    if (unread.length > 0) {
      process.stderr.write(`deploy-vps: ${unread.map(([name, reading]) => `${name} ${reading.state === "partial" ? "was read in part" : "could not be read"}: ${reading.detail ?? ""}`).join("; ")}\n`);
      return ExitCode.failed;
    }
    return shown.rows.some(isFinding) ? ExitCode.unhealthy : ExitCode.ok;
  } finally {
    remote.close();
  }
}

interface Look {
  report: AuditReport;
  plan: ReturnType<typeof planFix>;
  /** Something listens where the sites would be sent. */
  proxyUp: boolean;
}

/** A fix that would send sites to a proxy that is not there, or from a partial view of nginx, is refused. */
function refuseUnsafeFix(seen: Look, options: AuditOptions): void {
  const nginx = seen.report.sources.nginx;
  if (nginx.state !== "read")
    throw new EnvironmentError(`--fix changes nothing from a partial view of nginx (${nginx.detail ?? ""}): run it as a user who may run nginx -T, or with passwordless sudo.`);
  if (!seen.proxyUp)
    throw new EnvironmentError(`--fix changes nothing: nothing listens on ${formatAddress(options.proxy)}, where it would send the sites (deploy-vps proxy install, or --proxy ADDRESS).`);
}

/** One round trip: everything read, then decided here. */
async function look(remote: Remote, options: AuditOptions): Promise<Look> {
  const result = await remote.run(auditScript(options));
  const answer = parseAuditAnswer(result.stdout.toString("utf8"), remote.target.host);
  const nginx = readNginx(answer, options.nginxConf);
  const proxy = readProxy(answer);
  const docker: SourceReading =
    "error" in answer.docker ? { state: "unreadable", detail: answer.docker.error } : { state: "read", detail: `${answer.docker.containers.length} containers` };
  const verdict: AuditVerdict = auditVerdict({
    sites: nginx.sites,
    containers: "error" in answer.docker ? [] : answer.docker.containers,
    ...(proxy.config ? { config: proxy.config } : {}),
    ...(proxy.dependencies ? { dependencies: proxy.dependencies } : {}),
    ...(answer.proxy.status ? { status: answer.proxy.status } : {}),
    memory: answer.memory,
    listening: answer.listening,
    proxy: options.proxy,
    addresses: answer.addresses,
    proxyProject: PROXY_PROJECT,
  });
  const plan = nginx.loaded
    ? planFix(verdict.rows, { files: answer.nginx.files, loaded: nginx.loaded, sites: nginx.sites, main: options.nginxConf }, options.proxy)
    : { changes: [], diffs: [], unfixable: [] };
  const sources: AuditSources = { nginx: nginx.reading, proxy: proxy.reading, docker };
  return {
    report: { server: answer.serverName || remote.target.host, rows: verdict.rows, sources, services: verdict.services, fixes: plan.diffs, unfixable: plan.unfixable, roundTrips: remote.roundTrips },
    plan,
    proxyUp: listensOn(answer.listening, options.proxy.host, options.proxy.port),
  };
}

function readNginx(answer: AuditAnswer, main: string): { reading: SourceReading; sites: Site[]; loaded?: LoadedNginx } {
  const { way, refused, unreadable, files } = answer.nginx;
  // nginx's own words are several lines; the one that says why is its [emerg].
  const said = (refused ?? "").split("\n").filter((line) => line.trim() !== "" && !line.includes("syntax is ok"));
  const why = withoutLogPrefix(said.find((line) => line.includes("[emerg]")) ?? said[0] ?? "");
  if (files.length === 0) return { reading: { state: "unreadable", detail: `${why || "nginx -T said nothing"}; and ${main} could not be read` }, sites: [] };
  let loaded: LoadedNginx;
  try {
    loaded = loadNginx(files, main);
  } catch (error) {
    if (error instanceof DeployError) return { reading: { state: "unreadable", detail: error.message }, sites: [] };
    throw error;
  }
  const gaps = [
    ...(unreadable.length > 0 ? [`could not read ${unreadable.join(", ")}`] : []),
    ...loaded.missing.map((m) => `${m.file}:${m.line}: include ${m.include} names no file read`),
  ];
  const sites = nginxSites(loaded);
  if (way === "files") return { reading: { state: "partial", detail: [`nginx -T refused (${why}): read the files from ${main} down instead`, ...gaps].join("; ") }, sites, loaded };
  const detail = [`nginx -T${way === "sudo" ? " through sudo" : ""}, ${loaded.files.length} files`, ...gaps].join("; ");
  return { reading: gaps.length > 0 ? { state: "partial", detail } : { state: "read", detail }, sites, loaded };
}

function readProxy(answer: AuditAnswer): { reading: SourceReading; config?: ProxyConfig; dependencies?: DependenciesFile } {
  const { proxy } = answer;
  if (proxy.configError !== undefined) return { reading: { state: "unreadable", detail: `${proxy.configName ?? "the config file"}: ${proxy.configError.trim()}` } };
  let config: ProxyConfig | undefined;
  try {
    config = proxy.configText === undefined ? undefined : parseProxyConfig(proxy.configText, proxy.configName ?? "config");
  } catch (error) {
    if (error instanceof DeployError) return { reading: { state: "unreadable", detail: error.message } };
    throw error;
  }
  // A bad dependencies file leaves the routes as they are: only the wake chains are not known.
  let dependencies: DependenciesFile | undefined;
  let dependenciesError: string | undefined;
  try {
    dependencies = proxy.dependenciesText === undefined ? undefined : parseDependenciesFile(proxy.dependenciesText, proxy.dependenciesName ?? "dependencies");
  } catch (error) {
    if (!(error instanceof DeployError)) throw error;
    dependenciesError = error.message;
  }
  const installed = proxy.installed ? (proxy.status ? "installed, answering" : "installed, not answering: no states") : "not installed: routes from labels and the config file only";
  const read = [config ? `${config.file}, ${config.entries.length} entries` : "no config file", dependencies?.file, dependenciesError].filter((part) => part !== undefined);
  return {
    reading: { state: (proxy.installed && !proxy.status) || dependenciesError !== undefined ? "partial" : "read", detail: [installed, ...read].join("; ") },
    ...(config ? { config } : {}),
    ...(dependencies ? { dependencies } : {}),
  };
}

/** The backups made (hidden files beside the originals: `include dir/*` skips them). */
async function applyFix(remote: Remote, options: AuditOptions, look: Look): Promise<string[]> {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const result = await remote.run(remoteScript("nginx-fix", { env: { NGINX_CONF: options.nginxConf, STAMP: stamp } }), { stdin: fixInput(look.plan.changes) });
  if (result.code === 0)
    return result.stdout
      .toString("utf8")
      .split("\n")
      .filter((line) => line.startsWith("backup="))
      .map((line) => Buffer.from(line.slice("backup=".length), "base64").toString("utf8"));
  const said = result.stderr
    .trim()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => line.replace(/^nginx-fix: /, ""));
  // nginx-fix.sh's last line says why it refused and that nothing changed; after a failed nginx -t,
  // nginx's own [emerg] lines say what is wrong.
  const emerg = result.code === 3 ? said.filter((line) => line.includes("[emerg]")).map(withoutLogPrefix) : [];
  const why = said.length === 0 ? undefined : `${said.at(-1)}${emerg.length > 0 ? ` (${emerg.join("; ")})` : ""}`;
  throw new EnvironmentError(why ?? `nginx-fix.sh failed (exit ${result.code}) and said nothing; nothing was changed`);
}
