import { describe, expect, it } from "vitest";
import { classifyClient, DEFAULT_MONITOR_AGENTS } from "../../../src/proxy/clients.js";

const CHROME =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const SAFARI_IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
const BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

function monitor(agent: string, extra: readonly string[] = []): boolean {
  return classifyClient({ "user-agent": agent }, extra).monitor;
}

function wantsHtml(accept: string | undefined): boolean {
  return classifyClient(accept === undefined ? {} : { accept }, []).wantsHtml;
}

describe("classifyClient: monitors and bots", () => {
  it.each([
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
    "Mozilla/5.0 (compatible; StatusCake)",
    "Uptime-Kuma/1.23.11",
    "Better Uptime Bot Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
    "Better Stack Better Uptime Bot Mozilla/5.0",
    "Site24x7",
    "Freshping/1.0",
    "HetrixTools Uptime Monitoring Bot. https://hetrix.tools/",
    "NodePing",
    "Checkly/1.0 (https://www.checklyhq.com)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120 Safari/537.36 DatadogSynthetics",
    "GoogleStackdriverMonitoring-UptimeChecks(https://cloud.google.com/monitoring)",
    "GoogleHC/1.0",
    "ELB-HealthChecker/2.0",
    "kube-probe/1.29",
    "Zabbix",
    "check_http/v2.3.3 (nagios-plugins 2.3.3)",
    "Monit/5.33.0",
    "Blackbox Exporter/0.24.0",
    "updown.io daemon 2.11",
    "OhDear.app",
    "Gatus/1.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "GPTBot/1.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
  ])("counts %j as a monitor", (agent) => {
    expect(monitor(agent)).toBe(true);
  });

  it.each([
    CHROME,
    SAFARI_IPHONE,
    FIREFOX,
    "",
    "curl/8.5.0",
    "Wget/1.21.4",
    "node",
    "undici",
    "axios/1.7.2",
    "Go-http-client/1.1",
    "python-requests/2.31.0",
    "python-httpx/0.27.0",
    "okhttp/4.12.0",
    "Java/21.0.2",
    "PostmanRuntime/7.36.0",
    "HTTPie/3.2.2",
    "MyCompany-Billing/2.3",
  ])("does not count %j as a monitor: it wakes the service", (agent) => {
    expect(monitor(agent)).toBe(false);
  });

  it("does not count a request without a User-Agent as a monitor", () => {
    expect(classifyClient({}, []).monitor).toBe(false);
  });

  it("takes the config file's extra agents, case aside", () => {
    expect(monitor("Acme-Pinger/3.0", ["acme-PINGER"])).toBe(true);
    expect(monitor("Acme-Pinger/3.0")).toBe(false);
    expect(monitor("curl/8.5.0", [""])).toBe(false);
  });

  it("keeps its defaults lower-case, as they are compared", () => {
    for (const agent of DEFAULT_MONITOR_AGENTS) expect(agent).toBe(agent.toLowerCase());
  });
});

describe("classifyClient: HTML or not", () => {
  it("sees a browser's Accept as wanting HTML", () => {
    expect(wantsHtml(BROWSER_ACCEPT)).toBe(true);
    expect(wantsHtml("TEXT/HTML")).toBe(true);
    expect(wantsHtml("application/json, text/html;q=0.1")).toBe(true);
    expect(wantsHtml("text/html ; charset=utf-8 ; q = 0.5")).toBe(true);
  });

  it("never sees HTML wanted by an API client, curl or a refusal", () => {
    expect(wantsHtml(undefined)).toBe(false);
    expect(wantsHtml("")).toBe(false);
    expect(wantsHtml("*/*")).toBe(false);
    expect(wantsHtml("text/*")).toBe(false);
    expect(wantsHtml("application/json")).toBe(false);
    expect(wantsHtml("application/json, text/html;q=0")).toBe(false);
    expect(wantsHtml("text/html;q=0.000, */*")).toBe(false);
    expect(wantsHtml("text/htmlx")).toBe(false);
  });

  it("answers both questions at once", () => {
    expect(classifyClient({ accept: BROWSER_ACCEPT, "user-agent": CHROME }, [])).toEqual({ wantsHtml: true, monitor: false });
    expect(classifyClient({ accept: "*/*", "user-agent": "kube-probe/1.29" }, [])).toEqual({ wantsHtml: false, monitor: true });
  });
});
