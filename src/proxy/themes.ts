/**
 * Where a waiting page's template comes from: the config's themes folder (custom themes, read at
 * every page so that an edit shows at the next one), else the pages shipped beside the daemon.
 * Whatever goes wrong, a visitor gets a page: the default theme, and the daemon's log says why.
 */
import { constants } from "node:fs";
import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { DaemonLog } from "./daemon-log.js";
import { isThemeName, normaliseTheme } from "./labels.js";

export const BUILT_IN_THEMES = ["ghost", "matrix", "shuffle", "hacker-terminal", "cyberpunk"] as const;
export type BuiltInTheme = (typeof BUILT_IN_THEMES)[number];
export const DEFAULT_THEME: BuiltInTheme = "ghost";
/** A theme is one page; a bigger file is a mistake (a video, a log), not a theme. */
export const MAX_THEME_BYTES = 256 * 1024;

/**
 * The pages `npm run build` copies beside this module: dist/proxy/pages/ for tsc's output and for
 * the bundle alike, which is why install ships them beside daemon.mjs.
 */
export const PAGES_FOLDER = new URL("./pages/", import.meta.url);

/**
 * When even the default theme cannot be read (a broken install), a bare page that still says what
 * happens, and a script that still gets the visitor to the site.
 */
const BARE_TEMPLATE = `<!doctype html>
<html lang="en" data-dv-state="starting"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{ serviceName }} is starting</title></head>
<body><h1>{{ serviceName }} is starting</h1><p data-dv="message">{{ message }}</p>{{ progress }}{{ failure }}</body></html>
`;
const BARE_LIVE = "setTimeout(function () { location.reload(); }, 5000);";

function isBuiltIn(name: string): name is BuiltInTheme {
  return (BUILT_IN_THEMES as readonly string[]).includes(name);
}

/** Why a theme could not be used, for the log line. */
interface Refusal {
  reason: string;
}

/**
 * A theme file's text, undefined when there is none, or why it cannot be used: not a regular
 * file (a folder, a pipe: opened without blocking, then refused), unreadable, or too large.
 */
async function readPage(path: string): Promise<string | Refusal | undefined> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? undefined : { reason: `${path} cannot be read (${code ?? String(error)})` };
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return { reason: `${path} is not a file` };
    // Bounded even if the file grows after the stat: one byte over the limit is enough to refuse it.
    const buffer = Buffer.alloc(Math.min(stats.size, MAX_THEME_BYTES) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      length += bytesRead;
      if (bytesRead === 0 || length === buffer.length) break;
    }
    if (length > MAX_THEME_BYTES) return { reason: `${path} is larger than ${MAX_THEME_BYTES / 1024} KiB` };
    return buffer.toString("utf8", 0, length);
  } catch (error) {
    return { reason: `${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  } finally {
    await handle.close();
  }
}

export interface ThemeBookOptions {
  /** The config's themesFolder. */
  customFolder?: string;
  log: DaemonLog;
  /** Where the built-in pages and live.js are; tests give their own. */
  builtInFolder?: URL;
}

/** The daemon's waiting-page templates (one book per daemon). */
export class ThemeBook {
  private customFolder: string | undefined;
  private readonly log: DaemonLog;
  private readonly builtInFolder: string;
  /** Shipped with the daemon, so read once; a failed read is tried again at the next page. */
  private readonly shipped = new Map<string, string>();
  /** The reasons already logged, by theme name: one line per name and reason, not one per request. */
  private readonly logged = new Map<string, Set<string>>();

  constructor(options: ThemeBookOptions) {
    this.customFolder = options.customFolder;
    this.log = options.log;
    this.builtInFolder = fileURLToPath(options.builtInFolder ?? PAGES_FOLDER);
  }

  /** A config reload: the new folder is read from the next page on, and its problems are logged afresh. */
  setCustomFolder(folder: string | undefined): void {
    this.customFolder = folder;
    this.logged.clear();
  }

  /**
   * The template for a theme name (undefined: the default): the themes folder's `NAME.html` as
   * written, then its normalised `name.html`, then the built-in theme; anything else falls back
   * to the default theme, logged.
   */
  async template(name: string | undefined): Promise<string> {
    const theme = name ?? DEFAULT_THEME;
    const found = await this.find(theme);
    if (typeof found === "string") {
      // Fixed: should it break again, that is worth a line again.
      this.logged.delete(theme);
      return found;
    }
    this.logOnce("warn", theme, `waiting-page theme ${theme} falls back to ${DEFAULT_THEME}`, found.reason);
    const fallback = await this.shippedFile(`${DEFAULT_THEME}.html`);
    if (typeof fallback === "string") return fallback;
    this.logOnce("error", DEFAULT_THEME, "the default waiting-page theme is missing: serving a bare page", fallback.reason);
    return BARE_TEMPLATE;
  }

  /** The page's client script, injected into every theme. */
  async live(): Promise<string> {
    const live = await this.shippedFile("live.js");
    if (typeof live === "string") return live;
    this.logOnce("error", "live.js", "the waiting page's script is missing: pages reload every 5 s instead", live.reason);
    return BARE_LIVE;
  }

  private async find(name: string): Promise<string | Refusal> {
    if (!isThemeName(name)) return { reason: "not a theme name (letters, digits, hyphens and underscores)" };
    const builtIn = normaliseTheme(name);
    const candidates = [...new Set([name, builtIn])].map((candidate) => `${candidate}.html`);
    if (this.customFolder !== undefined) {
      for (const file of candidates) {
        const page = await readPage(join(this.customFolder, file));
        if (page !== undefined) return page;
      }
    }
    if (isBuiltIn(builtIn)) return this.shippedFile(`${builtIn}.html`);
    if (this.customFolder === undefined) return { reason: "no built-in theme has this name, and the config names no themesFolder" };
    // A folder the daemon cannot see (outside the home its container mounts, say) is worth saying so.
    const folder = await stat(this.customFolder).catch(() => undefined);
    if (!folder?.isDirectory()) return { reason: `no built-in theme has this name, and the themes folder ${this.customFolder} is not there` };
    return { reason: `no built-in theme has this name, and ${this.customFolder} has no ${candidates.join(" or ")}` };
  }

  private async shippedFile(file: string): Promise<string | Refusal> {
    const known = this.shipped.get(file);
    if (known !== undefined) return known;
    const text = (await readPage(join(this.builtInFolder, file))) ?? { reason: `${join(this.builtInFolder, file)} is missing` };
    if (typeof text === "string") this.shipped.set(file, text);
    return text;
  }

  private logOnce(level: "warn" | "error", name: string, message: string, reason: string): void {
    const reasons = this.logged.get(name) ?? new Set<string>();
    if (reasons.has(reason)) return;
    this.logged.set(name, reasons.add(reason));
    this.log[level](message, { theme: name, reason });
  }
}
