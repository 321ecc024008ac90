import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseProxyConfig } from "../../../src/proxy/config-file.js";
import { PROXY_LABELS } from "../../../src/proxy/labels.js";
import type { ContainerFacts } from "../../../src/proxy/model.js";
import { buildRouteTable, requestHost } from "../../../src/proxy/routes.js";
import { containerFacts, labelled } from "./facts.js";

function hostLabels(host: string, port = "8080"): Record<string, string> {
  return { [PROXY_LABELS.host]: host, [PROXY_LABELS.port]: port };
}

function config(services: object[]) {
  return parseProxyConfig(JSON.stringify({ services }, null, 2), "config.json");
}

describe("buildRouteTable: labels", () => {
  it("disables a routed service whose wake-chain labels are bad, naming them; a dependency is no route", () => {
    const table = buildRouteTable(
      [
        labelled({ ...hostLabels("docs.example.com"), [PROXY_LABELS.requires]: "db/postgres:soon" }),
        labelled({ ...hostLabels("a.example.com", "abc"), [PROXY_LABELS.check]: "ping" }, { project: "a" }),
        labelled({ [PROXY_LABELS.check]: "ping", [PROXY_LABELS.idle]: "10m" }, { project: "db", service: "postgres" }),
      ],
      undefined,
    );
    expect(table.routes).toEqual([]);
    expect(table.disabled.map((route) => [route.name, route.reason])).toEqual([
      [
        "a",
        "label deploy-vps.proxy.port on a-web-1: 'abc' is not a port (1-65535); label deploy-vps.proxy.check on a-web-1: 'ping' is not a check (tcp PORT, http PORT /path, cmd COMMAND)",
      ],
      ["shop", "label deploy-vps.proxy.requires on shop-web-1: 'db/postgres:soon' has no condition 'soon' (started, healthy or completed)"],
    ]);
  });

  it("routes a labelled compose service under its project's name", () => {
    const table = buildRouteTable([labelled(hostLabels("docs.example.com")), containerFacts({ service: "db" })], undefined);
    expect(table.routes.map((route) => [route.name, route.project, route.target])).toEqual([
      ["shop", "shop", { kind: "container", service: "web", port: 8080 }],
    ]);
    expect(table.byName("shop")).toBe(table.routes[0]);
    expect(table.disabled).toEqual([]);
    expect(table.conflicts).toEqual([]);
  });

  it("names routes project/service when a project routes several services", () => {
    const table = buildRouteTable(
      [labelled(hostLabels("shop.example.com")), labelled(hostLabels("api.example.com"), { service: "api", name: "shop-api-1" })],
      undefined,
    );
    expect(table.routes.map((route) => route.name)).toEqual(["shop/api", "shop/web"]);
    expect(table.routes.every((route) => route.project === "shop")).toBe(true);
  });

  it("names a disabled route the same way", () => {
    const table = buildRouteTable(
      [labelled(hostLabels("shop.example.com")), labelled(hostLabels("api.example.com", "abc"), { service: "api", name: "shop-api-1" })],
      undefined,
    );
    expect(table.disabled.map((route) => route.name)).toEqual(["shop/api"]);
    expect(table.byName("shop/api")).toBeUndefined();
  });

  it("ignores one-off containers (docker compose run) that carry the service's labels", () => {
    const table = buildRouteTable(
      [labelled(hostLabels("docs.example.com", "abc"), { oneoff: true, name: "shop-web-run-1", state: "running" })],
      undefined,
    );
    expect(table.routes).toEqual([]);
    expect(table.disabled).toEqual([]);
  });

  it("makes one route of a scaled or recreated service, from the running container's labels", () => {
    const old = labelled(hostLabels("old.example.com"), { name: "shop-web-1", state: "exited", startedAt: "2026-11-30T12:00:00Z" });
    const running = labelled(hostLabels("new.example.com"), { name: "shop-web-2", state: "running", startedAt: "2026-11-30T09:00:00Z" });
    const table = buildRouteTable([old, running], undefined);
    expect(table.routes).toHaveLength(1);
    expect(table.routes[0]?.hosts).toEqual(["new.example.com"]);
    expect(buildRouteTable([running, old], undefined).routes[0]?.hosts).toEqual(["new.example.com"]);
  });

  it("takes the newest running container's labels when running ones disagree, the newest stopped when none runs", () => {
    const older = { state: "running", startedAt: "2026-11-30T09:00:00Z" };
    const newer = { state: "running", startedAt: "2026-11-30T10:00:00Z" };
    const a = labelled(hostLabels("a.example.com"), { name: "shop-web-1", ...older });
    const b = labelled(hostLabels("b.example.com"), { name: "shop-web-2", ...newer });
    expect(buildRouteTable([a, b], undefined).routes[0]?.hosts).toEqual(["b.example.com"]);
    expect(buildRouteTable([b, a], undefined).routes[0]?.hosts).toEqual(["b.example.com"]);
    const stopped = (c: ContainerFacts) => ({ ...c, state: "exited" });
    expect(buildRouteTable([stopped(b), stopped(a)], undefined).routes[0]?.hosts).toEqual(["b.example.com"]);
    expect(buildRouteTable([stopped(a), stopped(b)], undefined).routes[0]?.hosts).toEqual(["b.example.com"]);
  });

  it("disables a labelled container compose did not make", () => {
    const table = buildRouteTable([labelled(hostLabels("x.example.com"), { project: undefined, service: undefined, name: "loose" })], undefined);
    expect(table.disabled.map((route) => route.name)).toEqual(["loose"]);
  });
});

describe("buildRouteTable: the config file", () => {
  const seedLike = config([
    { name: "ragflow", port: 9500, timeout: 180000, mode: "dynamic", themeName: "matrix", composeDir: "/opt/ragflow/", hosts: ["rag.example.com"] },
    { name: "xtts", port: 8020, timeout: 180000, mode: "blocking", composeDir: "/opt/xtts-api-server" },
    { name: "ghost", port: 9000, composeDir: "/opt/nothing-here" },
  ]);

  it("carries an entry's theme as written and its display name", () => {
    const table = buildRouteTable(
      [containerFacts({ project: "solidarlink", service: "web" })],
      config([{ name: "solidarlink", port: 8080, themeName: "hackerTerminal", displayName: "SolidarLink <beta>" }]),
    );
    expect(table.byName("solidarlink")).toMatchObject({ theme: "hackerTerminal", displayName: "SolidarLink <beta>" });
    expect(buildRouteTable([containerFacts({ project: "a" })], config([{ name: "a", port: 1 }])).byName("a")).not.toHaveProperty("displayName");
  });

  it("finds an entry's unit by working dir, then by project name", () => {
    const table = buildRouteTable(
      [
        containerFacts({ project: "rag", service: "server", workingDir: "/opt/ragflow//" }),
        containerFacts({ project: "rag", service: "es", workingDir: "/opt/ragflow/" }),
        containerFacts({ project: "xtts", service: "api", workingDir: "/srv/elsewhere" }),
      ],
      seedLike,
    );
    expect(table.routes.map((route) => [route.name, route.project, route.target, route.source])).toEqual([
      ["ragflow", "rag", { kind: "host-port", port: 9500 }, { kind: "config", file: "config.json", line: 3, col: 5 }],
      ["xtts", "xtts", { kind: "host-port", port: 8020 }, { kind: "config", file: "config.json", line: 14, col: 5 }],
    ]);
    expect(table.byName("ragflow")).toMatchObject({ idleMs: 180_000, mode: "dynamic", theme: "matrix", hosts: ["rag.example.com"] });
    expect(table.disabled).toEqual([
      {
        name: "ghost",
        hosts: [],
        reason: "config.json:21:5: no compose project has working dir /opt/nothing-here or name ghost",
        source: { kind: "config", file: "config.json", line: 21, col: 5 },
      },
    ]);
  });

  it("says when an entry without composeDir names no project", () => {
    const table = buildRouteTable([], config([{ name: "tika", port: 9998 }]));
    expect(table.disabled[0]?.reason).toBe("config.json:3:5: no compose project is named tika");
  });

  it("does not guess between two projects made in the same folder", () => {
    const table = buildRouteTable(
      [
        containerFacts({ project: "xtts-b", workingDir: "/opt/xtts-api-server" }),
        containerFacts({ project: "xtts-a", workingDir: "/opt/xtts-api-server" }),
      ],
      seedLike,
    );
    expect(table.byName("xtts")).toBeUndefined();
    expect(table.disabled.find((route) => route.name === "xtts")?.reason).toBe(
      "config.json:14:5: several compose projects have working dir /opt/xtts-api-server: xtts-a, xtts-b; which one to start is not guessed",
    );
  });

  it("lets labels win over an entry of the same name, unit or host, and says so", () => {
    const containers = [
      labelled(hostLabels("shop.example.com"), { project: "shop", name: "shop-web-1" }),
      labelled(hostLabels("blog.example.com"), { project: "blog", name: "blog-web-1", workingDir: "/opt/blog" }),
      labelled(hostLabels("wiki.example.com"), { project: "wiki", name: "wiki-web-1" }),
      containerFacts({ project: "other" }),
    ];
    const table = buildRouteTable(
      containers,
      config([
        { name: "shop", port: 1 },
        { name: "old-blog", port: 2, composeDir: "/opt/blog" },
        { name: "other", port: 3, hosts: ["wiki.example.com"] },
      ]),
    );
    expect(table.routes.map((route) => [route.name, route.source.kind])).toEqual([
      ["blog", "labels"],
      ["shop", "labels"],
      ["wiki", "labels"],
    ]);
    expect(table.conflicts).toEqual([
      "config.json:3:5 (shop) is ignored: labels on shop-web-1 also route shop; labels win over the config file",
      "config.json:7:5 (old-blog) is ignored: labels on blog-web-1 already route project blog; labels win over the config file",
      "config.json:12:5 (other) is ignored: labels on wiki-web-1 also claim host wiki.example.com; labels win over the config file",
    ]);
    expect(table.disabled).toEqual([]);
  });

  it("lets disabled labels win too: a typo does not hand the unit to the file", () => {
    const table = buildRouteTable([labelled(hostLabels("shop.example.com", "abc"))], config([{ name: "shop", port: 1 }]));
    expect(table.routes).toEqual([]);
    expect(table.disabled.map((route) => route.source.kind)).toEqual(["labels"]);
    expect(table.conflicts).toHaveLength(1);
  });
});

describe("buildRouteTable: two routes, one host", () => {
  it("disables both, each naming the other, and reports the conflict", () => {
    const table = buildRouteTable(
      [
        labelled(hostLabels("docs.example.com, a.example.com"), { project: "a", name: "a-web-1" }),
        labelled(hostLabels("docs.example.com"), { project: "b", name: "b-web-1" }),
        labelled(hostLabels("c.example.com"), { project: "c", name: "c-web-1" }),
      ],
      undefined,
    );
    expect(table.routes.map((route) => route.name)).toEqual(["c"]);
    expect(table.disabled.map((route) => [route.name, route.reason])).toEqual([
      ["a", "host docs.example.com is also claimed by b (labels on b-web-1)"],
      ["b", "host docs.example.com is also claimed by a (labels on a-web-1)"],
    ]);
    expect(table.conflicts).toEqual(["host docs.example.com is claimed by a (labels on a-web-1) and b (labels on b-web-1): none of them is routed"]);
    expect(table.lookup("docs.example.com")).toBeUndefined();
    expect(table.lookup("a.example.com")).toBeUndefined();
  });

  it("does the same for two config entries", () => {
    const table = buildRouteTable(
      [containerFacts({ project: "x" }), containerFacts({ project: "y" })],
      config([
        { name: "x", port: 1, hosts: ["same.example.com"] },
        { name: "y", port: 2, hosts: ["same.example.com"] },
      ]),
    );
    expect(table.routes).toEqual([]);
    expect(table.disabled.map((route) => route.reason)).toEqual([
      "host same.example.com is also claimed by y (config.json:10:5)",
      "host same.example.com is also claimed by x (config.json:3:5)",
    ]);
  });

  it("does not count a wildcard and a name under it as a clash", () => {
    const table = buildRouteTable(
      [
        labelled(hostLabels("*.example.com"), { project: "a", name: "a-web-1" }),
        labelled(hostLabels("docs.example.com"), { project: "b", name: "b-web-1" }),
      ],
      undefined,
    );
    expect(table.conflicts).toEqual([]);
    expect(table.routes).toHaveLength(2);
  });
});

describe("lookup", () => {
  const table = buildRouteTable(
    [
      labelled(hostLabels("docs.example.com"), { project: "docs", name: "docs-web-1" }),
      labelled(hostLabels("*.example.com"), { project: "any", name: "any-web-1" }),
      labelled(hostLabels("*.preview.example.com"), { project: "preview", name: "preview-web-1" }),
      labelled(hostLabels("localhost"), { project: "local", name: "local-web-1" }),
    ],
    undefined,
  );
  const name = (host: string) => table.lookup(host)?.name;

  it("matches exact names first, whatever the case, port or trailing dot", () => {
    expect(name("docs.example.com")).toBe("docs");
    expect(name("DOCS.Example.COM:8443")).toBe("docs");
    expect(name("docs.example.com.")).toBe("docs");
    expect(name("localhost:8890")).toBe("local");
  });

  it("then the longest wildcard suffix, over one or more labels", () => {
    expect(name("shop.example.com")).toBe("any");
    expect(name("a.b.example.com")).toBe("any");
    expect(name("pr-12.preview.example.com")).toBe("preview");
    expect(name("x.pr-12.preview.example.com")).toBe("preview");
  });

  it("matches nothing else", () => {
    expect(name("example.com")).toBeUndefined();
    expect(name("preview.example.com")).toBe("any");
    expect(name("docs.example.org")).toBeUndefined();
    expect(name("*.example.com")).toBeUndefined();
    expect(name("")).toBeUndefined();
    expect(name("[::1]:8890")).toBeUndefined();
  });

  it("never returns a disabled route", () => {
    const host = fc.constantFrom("a.example.com", "b.example.com", "*.example.com", "c.example.org");
    const container = fc.record({
      project: fc.constantFrom("p", "q", "r", "s"),
      service: fc.constantFrom("web", "api"),
      hosts: fc.uniqueArray(host, { minLength: 1, maxLength: 3 }),
      port: fc.constantFrom("80", "abc"),
      running: fc.boolean(),
    });
    const entry = fc.record({ name: fc.constantFrom("p", "q", "t"), hosts: fc.uniqueArray(host, { maxLength: 2 }) });
    fc.assert(
      fc.property(fc.array(container, { maxLength: 6 }), fc.uniqueArray(entry, { maxLength: 3, selector: (e) => e.name }), (cs, entries) => {
        const containers = cs.map((c, i) =>
          labelled(hostLabels(c.hosts.join(","), c.port), {
            project: c.project,
            service: c.service,
            name: `${c.project}-${c.service}-${i}`,
            state: c.running ? "running" : "exited",
          }),
        );
        const table = buildRouteTable(
          [...containers, containerFacts({ project: "t" })],
          config(entries.map((e) => ({ name: e.name, port: 1, hosts: e.hosts }))),
        );
        const names = new Set(table.routes.map((route) => route.name));
        for (const disabled of table.disabled) expect(names.has(disabled.name)).toBe(false);
        for (const probe of ["a.example.com", "b.example.com", "z.example.com", "c.example.org", "example.com"]) {
          const found = table.lookup(probe);
          if (found) expect(table.routes).toContain(found);
        }
        const claimed = table.routes.flatMap((route) => route.hosts);
        expect(new Set(claimed).size).toBe(claimed.length);
      }),
      { numRuns: 500 },
    );
  });
});

describe("requestHost", () => {
  it("drops the port, the case and the trailing dot", () => {
    expect(requestHost(" Docs.Example.com.:443 ")).toBe("docs.example.com");
    expect(requestHost("[::1]:8890")).toBe("[::1]");
    expect(requestHost("example.com:")).toBe("example.com");
  });
});
