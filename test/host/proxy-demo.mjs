// `npm run demo:proxy`, after `npm run demo`: installs the runtime proxy on the local test host,
// puts the demo to sleep, and wakes it with one request through the proxy.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { request } from "node:http";
import { hostEnv, root } from "./test-host.mjs";

// What `npm run demo` deployed (the README test runs both under names and ports of its own).
const name = process.env.DEPLOY_NAME ?? "demo";
const host = process.env.DEMO_HOST ?? "demo.localhost";
const listen = process.env.DEPLOY_PROXY_LISTEN ?? "127.0.0.1:8890";
// No registry here: the daemon runs on the Node image test/host/setup.sh made (a VPS uses node:20-alpine).
const env = { ...process.env, ...hostEnv, DEPLOY_PROXY_IMAGE: process.env.DEPLOY_PROXY_IMAGE ?? "local/node:20" };

// It uses what `npm run demo` built, rather than building it again.
if (!existsSync(`${root}/dist/cli.js`)) {
  console.error("npm run demo:proxy follows npm run demo, which builds deploy-vps and deploys the demo: run that first.");
  process.exit(2);
}

function cli(...args) {
  console.log(`\n$ deploy-vps ${args.join(" ")}`);
  const run = spawnSync(process.execPath, [`${root}/dist/cli.js`, ...args], { stdio: "inherit", env });
  if (run.status !== 0) process.exit(run.status ?? 1);
}

cli("proxy", "install");
cli("proxy", "sleep", name);
console.log(`\n$ curl -H 'Host: ${host}' http://${listen}/`);
const began = Date.now();
const [address, port] = listen.split(/:(?=\d+$)/);
// fetch() sends the URL's host whatever is asked: the Host header names the site here.
const page = await new Promise((resolve, reject) => {
  request({ host: address, port: Number(port), path: "/", headers: { Host: host } }, (res) => {
    let text = "";
    res.setEncoding("utf8");
    res.on("data", (chunk) => (text += chunk));
    res.on("end", () => resolve({ status: res.statusCode, text }));
  })
    .on("error", reject)
    .end();
});
console.log(`${page.status} after ${((Date.now() - began) / 1000).toFixed(1)} s (the stack was asleep; this request woke it):\n${page.text}`);
if (page.status !== 200) process.exit(1);
cli("proxy", "status");
