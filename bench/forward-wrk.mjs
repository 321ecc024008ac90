// A measurement to run by hand (not part of `npm run bench` nor of the tests): wrk against a small
// Node app directly, through nginx proxy_pass (keepalive upstream) and through the proxy's Forwarder,
// then the Forwarder process's memory with 1,000 websockets open through it.
// Usage: npm run build && node bench/forward-wrk.mjs [seconds]
import { execFileSync, fork, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const role = process.argv[2];

if (role === "app") {
  const { WebSocketServer } = await import("ws");
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("hello world\n");
  });
  server.keepAliveTimeout = 75_000;
  new WebSocketServer({ server }).on("connection", (ws) => ws.on("message", (data) => ws.send(data)));
  server.listen(0, "127.0.0.1", () => process.send?.({ port: server.address().port }));
} else if (role === "proxy") {
  const { Forwarder } = await import("../dist/proxy/forward.js");
  const { startListener } = await import("../dist/proxy/listener.js");
  const upstream = { host: "127.0.0.1", port: Number(process.argv[3]) };
  const forwarder = new Forwarder();
  const exchange = { onEnd() {} };
  const options = { trustForwarded: true };
  const listener = await startListener({
    host: "127.0.0.1",
    port: 0,
    onRequest: (req, res) => forwarder.http(req, res, upstream, exchange, options),
    onUpgrade: (req, socket, head) => forwarder.upgrade(req, socket, head, upstream, exchange, options),
  });
  process.on("message", () => process.send?.({ rss: process.memoryUsage().rss }));
  process.send?.({ port: listener.port });
} else {
  await main(Number(role ?? 10));
}

function child(...args) {
  const process_ = fork(new URL(import.meta.url), args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve) => process_.once("message", (message) => resolve({ process: process_, port: message.port })));
}

function wrk(port, seconds) {
  const out = execFileSync("wrk", ["-t2", "-c50", `-d${seconds}s`, "--latency", `http://127.0.0.1:${port}/`], { encoding: "utf8" });
  const ms = (text) => (text.endsWith("us") ? parseFloat(text) / 1000 : text.endsWith("ms") ? parseFloat(text) : parseFloat(text) * 1000);
  const percentile = (p) => ms(out.match(new RegExp(`^\\s+${p}%\\s+(\\S+)`, "m"))[1]);
  return { p50: percentile(50), p99: percentile(99), rps: parseFloat(out.match(/Requests\/sec:\s+(\S+)/)[1]), errors: /Non-2xx|Socket errors/.test(out) };
}

async function startNginx(appPort) {
  const folder = mkdtempSync(join(tmpdir(), "forward-bench-nginx-"));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  writeFileSync(
    join(folder, "nginx.conf"),
    `worker_processes 1; pid ${folder}/nginx.pid; error_log ${folder}/error.log;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${folder}; proxy_temp_path ${folder}; fastcgi_temp_path ${folder}; uwsgi_temp_path ${folder}; scgi_temp_path ${folder};
  upstream app { server 127.0.0.1:${appPort}; keepalive 64; }
  server { listen 127.0.0.1:${port};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_buffering off; } } }`,
  );
  const nginx = spawn("nginx", ["-p", folder, "-c", join(folder, "nginx.conf"), "-e", join(folder, "error.log"), "-g", "daemon off;"], { stdio: "inherit" });
  await sleep(500);
  return { port, stop: () => (nginx.kill(), rmSync(folder, { recursive: true, force: true })) };
}

async function main(seconds) {
  const app = await child("app");
  const proxy = await child("proxy", String(app.port));
  const nginx = await startNginx(app.port);
  try {
    wrk(proxy.port, 2); // warm-up
    const direct = wrk(app.port, seconds);
    const viaNginx = wrk(nginx.port, seconds);
    const viaForwarder = wrk(proxy.port, seconds);
    const row = (name, r) => `${name.padEnd(10)} p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  ${Math.round(r.rps)} req/s${r.errors ? "  (errors!)" : ""}`;
    console.log(row("direct", direct));
    console.log(row("nginx", viaNginx));
    console.log(row("forwarder", viaForwarder));
    const added = (r) => ({ p50: r.p50 - direct.p50, p99: r.p99 - direct.p99 });
    console.log(`added p99: nginx ${added(viaNginx).p99.toFixed(2)} ms, forwarder ${added(viaForwarder).p99.toFixed(2)} ms; throughput forwarder/nginx ${(viaForwarder.rps / viaNginx.rps).toFixed(2)}`);
    console.log(`forwarder RSS after wrk: ${Math.round((await rss(proxy.process)) / 1048576)} MB`);
    await websockets(proxy, 1_000);
  } finally {
    nginx.stop();
    app.process.kill();
    proxy.process.kill();
  }
}

function rss(process_) {
  return new Promise((resolve) => {
    process_.once("message", (message) => resolve(message.rss));
    process_.send("rss");
  });
}

async function websockets(proxy, count) {
  const { default: WebSocket } = await import("ws");
  const sockets = [];
  for (let index = 0; index < count; index += 1) {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/`);
    await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
    sockets.push(ws);
  }
  await Promise.all(sockets.map((ws) => new Promise((resolve) => (ws.once("message", resolve), ws.send("ping")))));
  console.log(`forwarder RSS with ${count} websockets open: ${Math.round((await rss(proxy.process)) / 1048576)} MB`);
  for (const ws of sockets) ws.terminate();
}
