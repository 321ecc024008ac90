import { posix } from "node:path";
import picomatch from "picomatch";
import { InputError } from "../errors.js";
import { type Directive, type NginxFile, NginxSyntaxError, parseNginx } from "./parse.js";

export interface MissingInclude {
  include: string;
  file: string;
  line: number;
}

export interface LoadedNginx {
  /** The main file's directives, each `include` replaced by the included files' directives. */
  root: Directive[];
  /** Every file read, once, in the order nginx first reads it. */
  files: string[];
  /** Includes of one file (not a glob) that is not among the files given. */
  missing: MissingInclude[];
}

/** nginx globs an include only when it has one of these (ngx_conf_include). */
const GLOB = /[*?[]/;

/**
 * The configuration from MAIN down, as nginx loads it: an `include` is replaced where it stands
 * by the included files' directives, a glob's matches in glob(3)'s order (bytes: "B" before "a"),
 * its `*` not matching a leading dot. Relative paths are relative to MAIN's folder. A file that
 * includes itself, directly or not, would make nginx recurse until it fails: a syntax error.
 */
export function loadNginx(files: NginxFile[], main: string): LoadedNginx {
  const byPath = new Map(files.map((file) => [posix.normalize(file.path), file]));
  const parsed = new Map<string, Directive[]>();
  const loaded: LoadedNginx = { root: [], files: [], missing: [] };
  const base = posix.dirname(main);

  const read = (path: string, including: string[]): Directive[] => {
    let directives = parsed.get(path);
    if (!directives) {
      const file = byPath.get(path);
      if (!file) throw new InputError(`${main}: not among the nginx files read.`);
      directives = parseNginx(file);
      parsed.set(path, directives);
      loaded.files.push(path);
    }
    return expand(directives, [...including, path]);
  };

  const expand = (directives: Directive[], including: string[]): Directive[] =>
    directives.flatMap((directive): Directive[] => {
      if (directive.name === "include" && directive.args.length === 1) return include(directive, directive.args[0] ?? "", including);
      return directive.block ? [{ ...directive, block: expand(directive.block, including) }] : [directive];
    });

  const include = (directive: Directive, pattern: string, including: string[]): Directive[] => {
    const path = posix.normalize(posix.isAbsolute(pattern) ? pattern : posix.join(base, pattern));
    const matches = GLOB.test(path)
      ? [...byPath.keys()].filter(globMatcher(path)).sort()
      : byPath.has(path)
        ? [path]
        : [];
    if (matches.length === 0 && !GLOB.test(path)) loaded.missing.push({ include: pattern, file: directive.file, line: directive.line });
    return matches.flatMap((match) => {
      if (including.includes(match))
        throw new NginxSyntaxError(directive.file, directive, `include cycle: ${match} is already being read (${[...including, match].join(" -> ")})`);
      return read(match, including);
    });
  };

  loaded.root = read(posix.normalize(main), []);
  return loaded;
}

/** glob(3)'s matching: no braces, no extglobs, no negation; `*` skips dot-files. */
function globMatcher(pattern: string): (path: string) => boolean {
  const matches = picomatch(pattern, { dot: false, nobrace: true, noextglob: true, nonegate: true });
  return (path) => matches(path);
}
