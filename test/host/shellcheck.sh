#!/usr/bin/env bash
# Lints every script that runs on the server (src/remote/*.sh) as POSIX sh. Installs Debian's
# ShellCheck first when it is missing and this is root on Debian/Ubuntu (CI, the test host).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v shellcheck >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq shellcheck >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq shellcheck >/dev/null; }
  else
    echo "shellcheck is missing: install it (apt-get install shellcheck)" >&2
    exit 1
  fi
fi
shellcheck --shell=sh src/remote/*.sh
# The tools around the tests are bash, as their shebang says.
shellcheck test/host/*.sh bench/*.sh .ci/run
