#!/usr/bin/env node
// A text timeline of one wake, drawn from the daemon's `wake step` log lines (JSON lines with
// service, container, phase, atMs). Plain ESM (types in wake-timeline.d.mts), so it also runs alone:
//   deploy-vps proxy logs -H vps --lines 1000 | node test/e2e/wake-timeline.mjs SERVICE
import { pathToFileURL } from "node:url";

/**
 * The `wake step` lines of SERVICE's last wake in TEXT (JSON lines; other lines are skipped).
 * Each line's time less its atMs is when its wake began: lines whose beginnings are within
 * JITTERMS of each other belong to one wake.
 */
export function wakeSteps(text, service, jitterMs = 500) {
  let steps = [];
  let begunMs;
  for (const line of text.split("\n")) {
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (entry?.message !== "wake step" || entry.service !== service) continue;
    const atMs = Number(entry.atMs);
    const begun = Date.parse(entry.time) - atMs;
    if (begunMs === undefined || Math.abs(begun - begunMs) > jitterMs) {
      steps = [];
      begunMs = begun;
    }
    steps.push({ container: String(entry.container), phase: String(entry.phase), atMs });
  }
  return steps;
}

/**
 * One row per container, in the order they began: `.` waiting, `=` starting, `#` ready from then
 * on, `x` failed; WIDTH columns span the wake; a scale and each container's start-to-ready ms.
 */
export function drawTimeline(steps, width = 60) {
  if (steps.length === 0) return "(no wake step lines)";
  const endMs = Math.max(...steps.map((step) => step.atMs), 1);
  const column = (ms) => Math.min(width - 1, Math.floor((ms / endMs) * width));
  const rows = new Map();
  for (const step of steps) {
    const row = rows.get(step.container) ?? {};
    if (step.phase === "starting" && row.startMs === undefined) row.startMs = step.atMs;
    if (step.phase === "ready" || step.phase === "failed") {
      row.endMs = step.atMs;
      row.end = step.phase;
    }
    rows.set(step.container, row);
  }
  const nameWidth = Math.max(...[...rows.keys()].map((name) => name.length));
  const ordered = [...rows.entries()].sort(([, a], [, b]) => (a.startMs ?? a.endMs ?? 0) - (b.startMs ?? b.endMs ?? 0));
  const lines = ordered.map(([name, row]) => {
    const from = row.startMs === undefined ? undefined : column(row.startMs);
    const to = row.endMs === undefined ? width : column(row.endMs);
    const cells = Array.from({ length: width }, (_, i) => {
      if (from === undefined) return i >= to ? (row.end === "failed" ? "x" : "#") : " ";
      if (i < from) return " ";
      if (i < to) return "=";
      if (i === to) return row.end === "failed" ? "x" : "#";
      return row.end === "ready" ? "#" : " ";
    });
    const took = row.startMs !== undefined && row.endMs !== undefined ? `${row.endMs - row.startMs} ms` : row.end === "ready" ? "already ready" : "";
    return `${name.padEnd(nameWidth)} |${cells.join("")}| ${took}`;
  });
  const scale = `${" ".repeat(nameWidth)} 0${" ".repeat(Math.max(0, width - String(endMs).length - 3))}${endMs} ms`;
  return [...lines, scale].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const service = process.argv[2];
  if (!service) {
    process.stderr.write("usage: deploy-vps proxy logs -H HOST --lines 1000 | node test/e2e/wake-timeline.mjs SERVICE\n");
    process.exit(2);
  }
  let text = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => process.stdout.write(`${drawTimeline(wakeSteps(text, service))}\n`));
}
