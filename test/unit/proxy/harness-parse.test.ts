// The runtime proxy's e2e and benchmark tools that decide something: wrk's output read into
// figures, an nginx block moved to a loopback port, the fixture's compose file per variant.
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { fixtureCompose, onLoopbackPort, parseWrk } from "../../e2e/proxy-tools.mjs";

// Captured from `wrk --latency` 4.1.0 (Debian) on the test host against test/fixtures/proxy-app.
const THROUGH_NGINX = `Running 3s test @ http://127.0.0.1:46321/
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    13.56ms    7.46ms  48.00ms   79.46%
    Req/Sec     1.90k   777.22     3.61k    63.33%
  Latency Distribution
     50%   10.68ms
     75%   17.98ms
     90%   24.36ms
     99%   36.42ms
  11385 requests in 3.02s, 1.35MB read
Requests/sec:   3771.08
Transfer/sec:    456.65KB
`;
const ALL_404 = `Running 2s test @ http://127.0.0.1:18557/missing
  2 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.46ms    2.59ms  49.49ms   94.80%
    Req/Sec     9.48k     3.10k   16.32k    77.50%
  Latency Distribution
     50%    0.93ms
     75%    1.11ms
     90%    2.19ms
     99%   10.66ms
  37717 requests in 2.00s, 7.55MB read
  Non-2xx or 3xx responses: 37717
Requests/sec:  18827.92
Transfer/sec:      3.77MB
`;
const TIMEOUTS = `Running 3s test @ http://127.0.0.1:18557/slow?ms=1200
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     7.50      0.71     8.00    100.00%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  20 requests in 3.02s, 2.48KB read
  Socket errors: connect 0, read 0, write 0, timeout 20
Requests/sec:      6.62
Transfer/sec:     841.26B
`;

describe("parseWrk", () => {
  it("reads p50, p99 and throughput in milliseconds and requests per second", () => {
    expect(parseWrk(THROUGH_NGINX)).toEqual({ p50Ms: 10.68, p99Ms: 36.42, requestsPerSec: 3771.08, requests: 11385, errors: 0 });
  });

  it("counts non-2xx answers and socket errors as errors", () => {
    expect(parseWrk(ALL_404)).toMatchObject({ p50Ms: 0.93, errors: 37717, requests: 37717 });
    expect(parseWrk(TIMEOUTS)).toMatchObject({ p99Ms: 0, errors: 20, requests: 20, requestsPerSec: 6.62 });
  });

  it("converts microseconds and seconds", () => {
    const mixed = THROUGH_NGINX.replace("10.68ms", "812.00us").replace("36.42ms", "1.50s");
    expect(parseWrk(mixed)).toMatchObject({ p50Ms: 0.812, p99Ms: 1500 });
  });

  it("refuses output without a latency distribution", () => {
    const plain = THROUGH_NGINX.replace(/ {2}Latency Distribution[\s\S]*?(?= {2}11385)/, "");
    expect(() => parseWrk(plain)).toThrow(/--latency/);
  });
});

describe("onLoopbackPort", () => {
  it("replaces every listen of a block with one on 127.0.0.1", () => {
    const block = "server {\n    listen 80;\n    listen [::]:80;\n    server_name a.test b.test;\n    location / { proxy_pass http://127.0.0.1:8890; }\n}\n";
    const moved = onLoopbackPort(block, 43210);
    expect(moved.match(/listen [^;]*;/g)).toEqual(["listen 127.0.0.1:43210;"]);
    expect(moved).toContain("server_name a.test b.test;");
    expect(moved).toContain("proxy_pass http://127.0.0.1:8890;");
  });

  it("adds a listen to a block without one, and keeps http-level lines around it", () => {
    const block = "map $http_upgrade $connection_upgrade { default upgrade; '' close; }\nserver {\n    server_name a.test;\n}\n";
    const moved = onLoopbackPort(block, 5000);
    expect(moved).toMatch(/^map .*\nserver \{\n {4}listen 127\.0\.0\.1:5000;\n/);
  });

  it("refuses text without a server block", () => {
    expect(() => onLoopbackPort("location / {}", 5000)).toThrow(/no server/);
  });
});

describe("fixtureCompose", () => {
  it("labels the web service with the proxy labels, as strings", () => {
    const compose = parse(fixtureCompose({ labels: { host: "a.test", port: 8080, idle: "4s" }, startDelayMs: 1000 }));
    expect(compose.services.web.labels).toEqual({ "deploy-vps.proxy.host": "a.test", "deploy-vps.proxy.port": "8080", "deploy-vps.proxy.idle": "4s" });
    expect(compose.services.web.environment).toEqual({ START_DELAY_MS: "1000" });
    expect(compose.services.web.ports).toBeUndefined();
    expect(Object.keys(compose.services)).toEqual(["web"]);
  });

  it("publishes on loopback only when a host port is given", () => {
    expect(parse(fixtureCompose({ hostPort: 4321 })).services.web.ports).toEqual(["127.0.0.1:4321:8080"]);
  });

  it("gives the healthcheck variant Docker's default 30 s interval", () => {
    expect(parse(fixtureCompose({ variant: "healthcheck" })).services.web.healthcheck.interval).toBe("30s");
  });

  it("gives the database variant a second service the web one depends on", () => {
    const compose = parse(fixtureCompose({ variant: "database" }));
    expect(compose.services.web.depends_on).toEqual(["db"]);
    expect(compose.services.web.environment).toMatchObject({ DATABASE_ADDR: "db:5432" });
    expect(compose.services.db.image).toBe("local/node:20");
  });

  it("gives the labels-only variant the labels on a busybox container and nothing else", () => {
    const compose = parse(fixtureCompose({ variant: "labels-only", labels: { host: "a.test", port: "abc" } }));
    expect(compose.services.web).toMatchObject({ image: "local/busybox:latest", labels: { "deploy-vps.proxy.port": "abc" } });
    expect(compose.services.web.volumes).toBeUndefined();
  });

  it("gives the crashing variant a volume for its first-start marker", () => {
    const compose = parse(fixtureCompose({ variant: "crash" }));
    expect(compose.services.web.environment).toMatchObject({ CRASH_AFTER_FIRST_START: "/data/started" });
    expect(compose.volumes).toEqual({ data: {} });
  });
});
