import type { IncomingHttpHeaders } from "node:http";
import { createIsbotFromList, list as botPatterns } from "isbot";

/**
 * Uptime monitors and health checkers, as substrings of their User-Agent (compared lower-case).
 * Their requests neither wake a service nor keep it awake.
 */
export const DEFAULT_MONITOR_AGENTS: readonly string[] = [
  "uptimerobot",
  "pingdom",
  "statuscake",
  "uptime-kuma",
  "betteruptime",
  "better uptime",
  "better stack",
  "betterstack",
  "site24x7",
  "freshping",
  "hetrixtools",
  "nodeping",
  "checkly",
  "datadog/synthetics",
  "datadogsynthetics",
  "googlestackdrivermonitoring",
  "googlehc",
  "elb-healthchecker",
  "kube-probe",
  "zabbix",
  "nagios",
  "check_http",
  "monit/",
  "blackbox exporter",
  "blackbox-exporter",
  "updown.io",
  "ohdear",
  "oh dear",
  "hyperping",
  "cronitor",
  "uptime.com",
  "pulsetic",
  "sematext synthetics",
  "gatus",
];

/**
 * What isbot's patterns catch besides crawlers: any `name/version` agent, so curl, wget, Node's
 * fetch and every HTTP library. Those are the API clients that async mode serves; they must wake.
 */
const HTTP_CLIENT_AGENTS = [
  "curl/8.5.0",
  "Wget/1.21.4",
  "node",
  "undici",
  "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
  "got (https://github.com/sindresorhus/got)",
  "axios/1.7.2",
  "Go-http-client/1.1",
  "python-requests/2.31.0",
  "python-httpx/0.27.0",
  "Python-urllib/3.11",
  "aiohttp/3.9.5",
  "okhttp/4.12.0",
  "Java/17.0.1",
  "Apache-HttpClient/4.5.14 (Java/17.0.1)",
  "libwww-perl/6.72",
  "PHP/8.2",
  "GuzzleHttp/7",
  "PostmanRuntime/7.36.0",
  "insomnia/8.6.1",
  "HTTPie/3.2.2",
  "Deno/1.40.0",
  "Bun/1.0.0",
  "reqwest/0.11",
];

/** isbot without the patterns that match a plain HTTP client: crawlers, previewers, headless browsers remain. */
const isCrawler = createIsbotFromList(
  botPatterns.filter((pattern) => !HTTP_CLIENT_AGENTS.some((agent) => new RegExp(pattern, "i").test(agent))),
);

export interface ClientKind {
  /** Accept names text/html: a browser, which may get a waiting page; anyone else never gets HTML. */
  wantsHtml: boolean;
  /** A monitor or a bot: answered what a sleeping service answers, never woken, never counted as activity. */
  monitor: boolean;
}

/** Pure: who sent a request, by its Accept and User-Agent headers. */
export function classifyClient(headers: IncomingHttpHeaders, extraMonitorAgents: readonly string[]): ClientKind {
  const agent = (headers["user-agent"] ?? "").toLowerCase();
  const monitor =
    [...DEFAULT_MONITOR_AGENTS, ...extraMonitorAgents].some((needle) => needle !== "" && agent.includes(needle.toLowerCase())) ||
    isCrawler(agent);
  return { wantsHtml: acceptsHtml(headers.accept ?? ""), monitor };
}

/** Whether an Accept header names text/html with a quality above 0 (`*` ranges do not count: curl sends `*\/*`). */
function acceptsHtml(accept: string): boolean {
  return accept.split(",").some((range) => {
    const [type = "", ...parameters] = range.split(";").map((part) => part.trim().toLowerCase());
    if (type !== "text/html") return false;
    const quality = parameters.find((parameter) => /^q\s*=/.test(parameter));
    return quality === undefined || Number(quality.replace(/^q\s*=\s*/, "")) > 0;
  });
}
