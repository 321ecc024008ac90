#!/usr/bin/env node
/**
 * The whole suite, in two lanes run at once: a host holds one runtime proxy, so every file that
 * installs it runs in one lane, one after another; the unit tests and every other end-to-end
 * file run in the other lane, two files at a time. Arguments, when given, go to one
 * plain `vitest run` instead (`npm test -- test/e2e/deploy.test.ts`).
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const vitest = ["node_modules/vitest/vitest.mjs", "run"];
const args = process.argv.slice(2);

function run(label, files, options = []) {
  return new Promise((resolve) => {
    const began = Date.now();
    const child = spawn(process.execPath, [...vitest, ...options, ...files], { stdio: ["ignore", "pipe", "pipe"] });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => process.stdout.write(label ? `[${label}] ${line}\n` : `${line}\n`));
    }
    child.on("close", (code, signal) => resolve({ label, code: code ?? 1, signal, seconds: Math.round((Date.now() - began) / 1000) }));
  });
}

if (args.length > 0) {
  const { code } = await run("", args);
  process.exit(code);
}

const e2e = readdirSync("test/e2e")
  .filter((name) => name.endsWith(".test.ts"))
  .map((name) => `test/e2e/${name}`);
// A file installs the daemon if it names its compose project, itself or through proxy-harness.js.
const usesProxy = (file) => /from "\.\/proxy-harness\.js"|deploy-vps-proxy/.test(readFileSync(file, "utf8"));
// The proxy lane, one file after another, sets the suite's length. The deploy files keep to their
// own names and ports, so two of them run side by side: most of their time is spent waiting on
// sshd and Docker, not on a core.
const lanes = [
  { label: "proxy", files: e2e.filter(usesProxy) },
  { label: "deploy", files: ["test/unit", ...e2e.filter((file) => !usesProxy(file))], options: ["--fileParallelism", "--maxWorkers=2"] },
];
const results = await Promise.all(lanes.map((lane) => run(lane.label, lane.files, lane.options)));
for (const { label, code, signal, seconds } of results) {
  console.log(`lane ${label}: ${code === 0 ? "passed" : `failed (${signal ?? `exit ${code}`})`} in ${seconds} s`);
}
process.exit(results.every((result) => result.code === 0) ? 0 : 1);
