import { describe, expect, it } from "vitest";
import { type AuditFacts, type AuditRow, auditVerdict } from "../../../src/audit/classify.js";
import { fixInput, planFix } from "../../../src/audit/fix.js";
import { listener, parseAuditAnswer } from "../../../src/audit/gather.js";
import { auditMarkdown, type AuditReport } from "../../../src/audit/render.js";
import { loadNginx } from "../../../src/nginx/load.js";
import { nginxSites } from "../../../src/nginx/sites.js";
import { parseProxyConfig } from "../../../src/proxy/config-file.js";
import { parseDependenciesFile } from "../../../src/proxy/dependencies-file.js";
import { containerFacts, labelled } from "../proxy/facts.js";

const MAIN = "/etc/nginx/nginx.conf";
const PROXY = { host: "127.0.0.1", port: 8890 };
const LISTENING = [{ address: "127.0.0.1", port: 8890 }];

function nginx(sites: Record<string, string>) {
  const files = [{ path: MAIN, text: "http {\n  include sites-enabled/*;\n}\n" }, ...Object.entries(sites).map(([name, text]) => ({ path: `/etc/nginx/sites-enabled/${name}`, text }))];
  const loaded = loadNginx(files, MAIN);
  return { files, loaded, sites: nginxSites(loaded) };
}

const site = (host: string, pass: string, extra = "") => `server {\n  listen 80;\n  server_name ${host};\n${extra}  location / {\n    proxy_pass ${pass};\n  }\n}\n`;

function verdict(overrides: Partial<AuditFacts>) {
  return auditVerdict({ sites: [], containers: [], memory: new Map(), listening: LISTENING, proxy: PROXY, addresses: [], proxyProject: "deploy-vps-proxy", ...overrides });
}

const kinds = (rows: AuditRow[]) => rows.map((row) => `${row.kind} ${row.host ?? row.project ?? row.service}`).sort();

describe("auditVerdict", () => {
  const config = parseProxyConfig(
    JSON.stringify({ services: [{ name: "shop", port: 8001, hosts: ["shop.example.com"] }, { name: "docs", port: 8002, hosts: ["docs.example.com"] }, { name: "cloud", port: 8003, hosts: ["cloud.example.com"] }, { name: "gone", port: 8004, hosts: ["gone.example.com"] }] }),
    "/home/deploy/.config/deploy-vps-proxy/config.json",
  );
  const stacks = ["shop", "docs", "cloud"].map((project, i) => containerFacts({ project, published: [{ hostPort: 8001 + i, containerPort: 80 }] }));

  it("tells a site through the proxy from one that bypasses it, a route without a site and an entry naming nothing", () => {
    const { sites } = nginx({ shop: site("shop.example.com", "http://127.0.0.1:8890"), docs: site("docs.example.com", "http://localhost:8002/") });
    const { rows } = verdict({ sites, containers: stacks, config });
    expect(kinds(rows)).toEqual(["bypass docs.example.com", "no-site cloud.example.com", "orphan gone.example.com", "through-proxy shop.example.com"]);
    const bypass = rows.find((row) => row.kind === "bypass");
    expect(bypass).toMatchObject({ project: "docs", target: "localhost:8002", file: "/etc/nginx/sites-enabled/docs", line: 5, passes: [{ file: "/etc/nginx/sites-enabled/docs", line: 5, col: 5 }] });
    expect(bypass?.detail).toContain("(it is stopped now: the site answers 502)");
  });

  it("calls a site dangling when nothing listens where it sends, and when the proxy itself is down", () => {
    const { sites } = nginx({ shop: site("shop.example.com", "http://127.0.0.1:8890"), old: site("old.example.com", "http://127.0.0.1:9999") });
    const { rows } = verdict({ sites, containers: stacks, config, listening: [] });
    expect(rows.filter((row) => row.kind === "dangling").map((row) => row.detail)).toEqual([
      "nothing listens on 127.0.0.1:9999: nginx answers 502 for old.example.com",
      "nginx sends shop.example.com to the proxy at 127.0.0.1:8890, but nothing listens there: the site is down",
    ]);
  });

  it("reaches every route a wildcard server_name covers, leading or trailing, and no other", () => {
    const hosts = parseProxyConfig(
      JSON.stringify({ services: [{ name: "shop", port: 8001, hosts: ["shop.example.com"] }, { name: "docs", port: 8002, hosts: ["docs.example.org"] }, { name: "cloud", port: 8003, hosts: ["cloud.example.net"] }] }),
      "config.json",
    );
    const { sites } = nginx({ wide: site(".example.com www.docs.* docs.*", "http://127.0.0.1:8890") });
    const { rows } = verdict({ sites, containers: stacks, config: hosts });
    // `.example.com` is example.com too, which no route names.
    expect(kinds(rows)).toEqual(["dangling example.com", "no-site cloud.example.net", "through-proxy docs.example.org", "through-proxy shop.example.com"]);
  });

  it("names the host the proxy has no route for", () => {
    const { sites } = nginx({ shop: site("shop.example.com www.shop.example.com", "http://127.0.0.1:8890") });
    const { rows } = verdict({ sites, containers: stacks, config });
    expect(rows.find((row) => row.kind === "dangling")?.detail).toBe("nginx sends www.shop.example.com to the proxy, which has no route for it");
  });

  it("reports a running stack nothing reaches with its memory, but not the proxy, a shared database, or what a direct site reaches", () => {
    const running = (project: string, id: string, extra: Partial<Parameters<typeof containerFacts>[0]> = {}) => containerFacts({ project, id, name: `${project}-web-1`, state: "running", ...extra });
    const containers = [
      running("forgotten", "f1"),
      running("deploy-vps-proxy", "p1"),
      running("databases", "db1", { service: "postgres", name: "databases-postgres-1" }),
      labelled({ "deploy-vps.proxy.host": "app.example.com", "deploy-vps.proxy.port": "80", "deploy-vps.proxy.requires": "databases/postgres" }, { project: "app", id: "a1" }),
      running("blog", "b1", { published: [{ hostPort: 8100, containerPort: 80 }] }),
    ];
    const { sites } = nginx({ app: site("app.example.com", "http://127.0.0.1:8890"), blog: site("blog.example.com", "http://127.0.0.1:8100", "  # deploy-vps: direct\n") });
    const { rows } = verdict({ sites, containers, memory: new Map([["f1", 150_000_000]]), listening: [...LISTENING, { address: "127.0.0.1", port: 8100 }] });
    expect(kinds(rows)).toEqual(["direct blog.example.com", "through-proxy app.example.com", "unmanaged forgotten"]);
    expect(rows.find((row) => row.kind === "unmanaged")?.memoryBytes).toBe(150_000_000);
  });

  it("reports a site sent straight to an undeclared running stack as unmanaged, and as direct once the config lists it", () => {
    const containers = [containerFacts({ project: "grafana", state: "running", published: [{ hostPort: 3000, containerPort: 3000 }] })];
    const { sites } = nginx({ grafana: site("grafana.example.com", "http://127.0.0.1:3000") });
    expect(kinds(verdict({ sites, containers }).rows)).toEqual(["unmanaged grafana.example.com"]);
    const direct = parseProxyConfig(JSON.stringify({ services: [], direct: ["Grafana.example.com"] }), "config.json");
    expect(kinds(verdict({ sites, containers, config: direct }).rows)).toEqual(["direct grafana.example.com"]);
  });

  it("reports dependencies on what does not exist, from labels and from the dependencies file", () => {
    const containers = [labelled({ "deploy-vps.proxy.host": "app.example.com", "deploy-vps.proxy.port": "80", "deploy-vps.proxy.requires": "nowhere/db" }, { project: "app" })];
    const dependencies = parseDependenciesFile(JSON.stringify({ services: { app: { name: "app-web-1", dependencies: [{ container: "redis-gone", startOrder: 1 }] } } }), "dependencies.json");
    const { rows } = verdict({ containers, dependencies });
    const broken = rows.filter((row) => row.kind === "broken-dependency").map((row) => row.detail);
    expect(broken).toContain("app-web-1 requires nowhere/db: no such container");
    expect(broken.some((detail) => detail.includes("redis-gone"))).toBe(true);
  });
});

describe("auditVerdict on the shapes real servers have", () => {
  const config = parseProxyConfig(JSON.stringify({ services: [{ name: "docs", port: 8002, hosts: ["docs.example.com"] }, { name: "shop", port: 8001, hosts: ["shop.example.com", "www.shop.example.com"] }] }), "config.json");
  const containers = [containerFacts({ project: "docs", published: [{ hostPort: 8002, containerPort: 80 }] }), containerFacts({ project: "shop" })];

  it("calls a site sent to a managed port under a host the proxy does not route a bypass it cannot fix", () => {
    const { sites } = nginx({ api: site("api.example.com", "http://127.0.0.1:8002") });
    const row = verdict({ sites, containers, config }).rows.find((r) => r.kind === "bypass");
    expect(row?.detail).toContain("the proxy routes none of this site's hosts to docs: add them to the route first");
    expect(row?.passes).toBeUndefined();
  });

  it("lets a catch-all server reach every route no other server names, and judges an upstream by its primary servers", () => {
    const upstream = "upstream app {\n  server 127.0.0.1:8002;\n  server 127.0.0.1:8890 backup;\n}\n";
    const { sites } = nginx({ default: site("_", "http://127.0.0.1:8890"), docs: upstream + site("docs.example.com", "http://app") });
    const rows = verdict({ sites, containers, config }).rows;
    expect(kinds(rows)).toEqual(["bypass docs.example.com", "through-proxy shop.example.com"]);
  });

  it("does not call an address elsewhere dangling", () => {
    const { sites } = nginx({ s3: site("files.example.com", "https://bucket.s3.amazonaws.com") });
    expect(verdict({ sites }).rows.map((r) => r.detail)).toEqual(["nginx sends files.example.com to bucket.s3.amazonaws.com:443, an address that is not this server's: not checked"]);
  });
});

describe("planFix", () => {
  it("writes no second server for a host nginx already serves, and leaves a location with its own Host to the user", () => {
    const config = parseProxyConfig(JSON.stringify({ services: [{ name: "docs", port: 8002, hosts: ["docs.example.com"] }, { name: "shop", port: 8001, hosts: ["shop.example.com"] }] }), "config.json");
    const containers = [containerFacts({ project: "docs" }), containerFacts({ project: "shop" })];
    const { files, loaded, sites } = nginx({
      redirect: "server {\n  listen 80;\n  server_name docs.example.com;\n  return 301 https://$host$request_uri;\n}\n",
      shop: site("shop.example.com", "http://127.0.0.1:8001", "  proxy_set_header Host localhost;\n"),
    });
    const plan = planFix(verdict({ sites, containers, config }).rows, { files, loaded, sites, main: MAIN }, PROXY);
    expect(plan.changes).toEqual([]);
    expect(plan.unfixable).toEqual([
      "/etc/nginx/sites-enabled/shop:4:3: proxy_set_header Host localhost: the proxy routes by the client's Host, so this location is not sent through it as it is; set it to $host by hand",
      "docs: docs.example.com is already a server_name at /etc/nginx/sites-enabled/redirect:1: send that server to the proxy by hand",
    ]);
  });

  it("sends a bypass through the proxy in its own file, and writes a site for a route no site reaches", () => {
    const config = parseProxyConfig(JSON.stringify({ services: [{ name: "docs", port: 8002, hosts: ["docs.example.com"] }, { name: "cloud", port: 8003, hosts: ["cloud.example.com"] }] }), "config.json");
    const containers = [containerFacts({ project: "docs" }), containerFacts({ project: "cloud" })];
    const { files, loaded, sites } = nginx({ docs: site("docs.example.com", "http://127.0.0.1:8002") });
    const { rows } = verdict({ sites, containers, config });
    const plan = planFix(rows, { files, loaded, sites, main: MAIN }, PROXY);
    expect(plan.changes.map((change) => change.path).sort()).toEqual(["/etc/nginx/sites-enabled/deploy-vps-cloud.conf", "/etc/nginx/sites-enabled/docs"]);
    const docs = plan.changes.find((change) => change.path.endsWith("/docs"));
    expect(docs?.after).toContain("    proxy_pass http://127.0.0.1:8890;\n");
    expect(docs?.after).toContain("proxy_set_header Host $host;");
    expect(plan.changes.find((change) => change.before === null)?.after).toContain("server_name cloud.example.com;");
    expect(plan.diffs.find((diff) => diff.file.endsWith("/docs"))?.diff).toContain("-    proxy_pass http://127.0.0.1:8002;");
    const [line] = fixInput(plan.changes.filter((change) => change.before === null)).split("\n");
    expect(line?.split(" ")[1]).toBe("-");
  });
});

describe("parseAuditAnswer", () => {
  it("reads listeners from /proc/net/tcp addresses, IPv4 and IPv6", () => {
    expect(listener("0100007F:22B2")).toEqual({ address: "127.0.0.1", port: 8882 });
    expect(listener("00000000000000000000000000000000:0050")).toEqual({ address: "::", port: 80 });
    expect(listener("00000000000000000000000001000000:1F90")).toEqual({ address: "::1", port: 8080 });
    expect(listener("0000000000000000FFFF00000100007F:1F90")).toEqual({ address: "127.0.0.1", port: 8080 });
  });

  it("takes each container's memory from container-usage.sh's lines, its `at` line aside", () => {
    const b64 = (text: string) => Buffer.from(text).toString("base64");
    const answer = parseAuditAnswer(`host=${b64("vps")}\nnginx.how=files\nnginx.dump=${b64("# configuration file /etc/nginx/nginx.conf:\nevents {}\n")}\ndocker=${b64("[]")}\nmemory=${b64("at 12.50\nabc 700 0 5\ndef 500 1048576 -\n")}\nend=ok\n`, "vps");
    expect([...answer.memory]).toEqual([["abc", 700], ["def", 500]]);
    expect(answer.nginx.way).toBe("files");
    expect(answer.nginx.files.map((file) => file.path)).toEqual(["/etc/nginx/nginx.conf"]);
    expect(answer.docker).toEqual({ containers: [] });
  });
});

describe("auditMarkdown", () => {
  it("writes the seed's table: service, hosts, mode, theme, idle, state, memory, routed", () => {
    const report: AuditReport = {
      server: "vps",
      rows: [],
      sources: { nginx: { state: "read" }, proxy: { state: "read" }, docker: { state: "read" } },
      services: [{ name: "shop", hosts: ["shop.example.com"], mode: "dynamic", theme: "matrix", idle: "30m", state: "sleeping", memoryBytes: 212_000_000, routed: "through the proxy" }],
      fixes: [],
      unfixable: [],
      roundTrips: 1,
    };
    const text = auditMarkdown(report);
    expect(text).toContain("| shop | shop.example.com | dynamic | matrix | 30m | sleeping | 212 MB | through the proxy |");
  });
});
