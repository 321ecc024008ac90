import { readFileSync } from "node:fs";

/** This package's version, read once from its package.json (dist/version.js sits one folder below it). */
export const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
