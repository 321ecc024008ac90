import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A `docker` command for the scripts' unit tests: it answers from the files of its folder
 * (`ids`, `running`, `inspect`, `names`, `stats`, `logs-NAME`, `labelled`: what
 * `docker ps -a --format` prints) and records each call's arguments, one call
 * a line, in `calls`. The real Docker is the e2e tests'.
 */
const FAKE_DOCKER = `#!/bin/sh
here=$(dirname "$0")
printf '%s\\n' "$*" >> "$here/calls"
case "$1 $2" in
  "compose version") echo 2.27.0 ;;
  "info --format") echo 27.0.3 ;;
  "ps -aq") cat "$here/ids" 2>/dev/null ;;
  "ps -q") cat "$here/running" 2>/dev/null ;;
  "ps -a") cat "$here/labelled" 2>/dev/null ;;
  "inspect -f") cat "$here/names" ;;
  "stats --no-stream") cat "$here/stats" ;;
  "logs --tail")
    if [ -f "$here/logs-$4" ]; then tail -n "$3" "$here/logs-$4"; else echo "Error: No such container: $4" >&2; exit 1; fi ;;
  "inspect "*) cat "$here/inspect" ;;
  *) echo "fake docker: unexpected $*" >&2; exit 1 ;;
esac
`;

export interface FakeDocker {
  /** The environment that puts it first on PATH. */
  env: NodeJS.ProcessEnv;
  answer(file: string, text: string): void;
  /** Each call's arguments, joined by spaces. */
  calls(): string[];
}

export function fakeDocker(dir: string): FakeDocker {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "docker"), FAKE_DOCKER);
  chmodSync(join(bin, "docker"), 0o755);
  return {
    env: { PATH: `${bin}:${process.env.PATH}` },
    answer: (file, text) => writeFileSync(join(bin, file), text),
    calls: () => {
      try {
        return readFileSync(join(bin, "calls"), "utf8").split("\n").filter(Boolean);
      } catch {
        return [];
      }
    },
  };
}
