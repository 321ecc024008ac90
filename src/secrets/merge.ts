import { type EnvFile, type EnvLine, formatEntry, isSecretLike } from "./env-file.js";

export interface EnvMergeInput {
  /** Strict-parsed .env.example. */
  template: EnvFile;
  /** Lenient-parsed current server .env, undefined on first deploy. */
  server?: EnvFile;
  /** Values from the deploying shell's env or a local .env.deploy, already merged by the caller. */
  provided: Map<string, string>;
  generate: () => string;
}

export interface EnvMergeResult {
  /** The new server .env. */
  text: string;
  /** Final key -> value (for checking required compose variables). */
  values: Map<string, string>;
  /** Keys whose non-empty server value was kept. */
  kept: string[];
  /** Keys taken from `provided`. */
  provided: string[];
  generated: string[];
  /** Keys given the template's value (may be empty string). */
  fromTemplate: string[];
  /** Keys on the server that the template does not have (kept). */
  serverOnly: string[];
}

export const KEPT_HEADER = "# Kept from the server's previous .env (not in the template)";

type Entry = Extract<EnvLine, { kind: "entry" }>;

/** Last entry per key (the one compose reads), in order of first appearance. */
function lastEntries(file: EnvFile | undefined): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  for (const l of file?.lines ?? []) if (l.kind === "entry") entries.set(l.key, l);
  return entries;
}

export function mergeEnv({ template, server, provided, generate }: EnvMergeInput): EnvMergeResult {
  const tpl = lastEntries(template);
  const srv = lastEntries(server);
  const marked = new Set(
    template.lines.flatMap((l) => (l.kind === "entry" && l.markedSecret ? [l.key] : [])),
  );
  const r: EnvMergeResult = {
    text: "",
    values: new Map(),
    kept: [],
    provided: [],
    generated: [],
    fromTemplate: [],
    serverOnly: [],
  };
  const out: string[] = [];
  const emit = (key: string, raw: string, value: string) => {
    out.push(raw);
    r.values.set(key, value);
  };

  for (const line of template.lines) {
    if (line.kind !== "entry") {
      out.push(line.raw);
      continue;
    }
    const key = line.key;
    if (r.values.has(key)) continue; // duplicate: the first occurrence placed it
    const t = tpl.get(key) ?? line;
    const s = srv.get(key);
    const p = provided.get(key);
    if (s && s.value !== "") {
      // Byte for byte: re-serialising could change how compose reads it (and the secret must not change).
      emit(key, s.raw, s.value);
      r.kept.push(key);
    } else if (p) {
      emit(key, formatEntry(key, p), p);
      r.provided.push(key);
    } else if (t.value === "" && (isSecretLike(key) || marked.has(key))) {
      const g = generate();
      emit(key, formatEntry(key, g), g);
      r.generated.push(key);
    } else {
      // The template's own line keeps its quoting, so `${VAR}` interpolation behaves as the author wrote it.
      emit(key, t.raw, t.value);
      r.fromTemplate.push(key);
    }
  }

  while (out.length > 0 && out.at(-1)?.trim() === "") out.pop();
  const serverOnly = [...srv.values()].filter((e) => !tpl.has(e.key));
  if (serverOnly.length > 0) {
    if (out.length > 0) out.push("");
    out.push(KEPT_HEADER);
    for (const e of serverOnly) {
      emit(e.key, e.raw, e.value);
      r.serverOnly.push(e.key);
    }
  }
  r.text = `${out.join("\n")}\n`;
  return r;
}

/** Names in `required` whose value in `values` is missing or empty, in order. */
export function missingVariables(required: string[], values: Map<string, string>): string[] {
  return required.filter((name) => !values.get(name));
}
