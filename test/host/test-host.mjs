// What the demos need of the local test host: its settings (written by setup.sh) and this checkout.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const state = process.env.DEPLOY_VPS_TEST_HOST_DIR ?? "/var/lib/deploy-vps-test-host";

/** DEPLOY_HOST, DEPLOY_PORT, DEPLOY_USER, DEPLOY_SSH_KEY, DEPLOY_KNOWN_HOSTS of the test host. */
export const hostEnv = Object.fromEntries(
  readFileSync(`${state}/env`, "utf8")
    .trim()
    .split("\n")
    .map((line) => line.split(/=(.*)/s).slice(0, 2)),
);

export const root = fileURLToPath(new URL("../..", import.meta.url));
