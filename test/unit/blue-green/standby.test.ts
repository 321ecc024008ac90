import { describe, expect, it } from "vitest";
import { standbyLayout } from "../../../src/blue-green/standby.js";
import { parseComposeFile } from "../../../src/compose/files.js";
import type { ComposeModel } from "../../../src/compose/model.js";
import type { BlueGreenSettings } from "../../../src/config/settings.js";

const SETTINGS: BlueGreenSettings = {
  primary: "strapi-master",
  standby: "strapi-slave",
  health: "http://127.0.0.1:{port}/_health",
  intervalSeconds: 15,
  timeoutSeconds: 180,
  drainSeconds: 30,
  cronVariable: "CRON_ENABLED",
  at: {
    blueGreen: "deploy-vps.yml:1:1",
    primary: "deploy-vps.yml:2:12",
    standby: "deploy-vps.yml:3:12",
    health: "deploy-vps.yml:4:11",
  },
};

/** The seed's compose file, trimmed to what the layout reads. */
const SEED = `services:
  strapi-master:
    image: bob-strapi:latest
    ports:
      - "\${STRAPI_HOST:-0.0.0.0}:1337:1337"
    environment:
      - CRON_ENABLED=true
  strapi-slave:
    image: bob-strapi:latest
    profiles: [blue-green]
    ports:
      - target: 1337
        published: 1338
    environment:
      CRON_ENABLED: "false"
  strapi-dev:
    image: bob-strapi-dev
    profiles: [dev]
    ports: ["1337:1337"]
  postgresql:
    image: postgres:16-alpine
  redis:
    image: redis:7-alpine
`;

function model(...texts: string[]): ComposeModel {
  const files = texts.map((text, index) => parseComposeFile(index === 0 ? "compose.yaml" : `override-${index}.yaml`, text, { partial: index > 0 }));
  const services = [...new Set(files.flatMap((file) => file.services.map((service) => service.name)))].map((name) => ({ name, hasBuild: false, image: "x" }));
  return { files, sources: files, services, included: [] };
}

const refusal = (settings: Partial<BlueGreenSettings>, ...texts: string[]) => {
  try {
    standbyLayout({ ...SETTINGS, ...settings }, model(...texts), "bob", {});
    return "accepted";
  } catch (error) {
    return (error as Error).message;
  }
};

describe("standbyLayout", () => {
  it("reads the seed's layout: published and container ports, the services a plain up -d starts, the unit", () => {
    expect(standbyLayout(SETTINGS, model(SEED), "bob", {})).toEqual({
      primary: "strapi-master",
      standby: "strapi-slave",
      primaryPort: 1337,
      standbyPort: 1338,
      primaryContainerPort: 1337,
      standbyContainerPort: 1337,
      others: ["postgresql", "redis"],
      health: "http://127.0.0.1:{port}/_health",
      intervalSeconds: 15,
      timeoutSeconds: 180,
      drainSeconds: 30,
      cronVariable: "CRON_ENABLED",
      unit: "bob",
    });
    expect(standbyLayout({ ...SETTINGS, unit: "site" }, model(SEED), "bob", {}).unit).toBe("site");
  });

  it("merges the files: an override's ports add up, its environment wins", () => {
    const override = "services:\n  strapi-slave:\n    ports: ['127.0.0.1:2338:2337/tcp']\n    environment: [CRON_ENABLED=true]\n";
    expect(refusal({}, SEED, override)).toBe(
      "override-1.yaml:4:19: strapi-slave's CRON_ENABLED turns its crons on; only the primary (strapi-master) may run them, or both would while the standby serves: set it to false.",
    );
    const ports = "services:\n  strapi-master:\n    ports: ['[::1]:8080:80', '53:53/udp']\n";
    const layout = standbyLayout(SETTINGS, model(SEED, ports), "bob", { STRAPI_HOST: "127.0.0.1" });
    expect([layout.primaryPort, layout.primaryContainerPort]).toEqual([1337, 1337]);
    const noPublished = SEED.replace('"${STRAPI_HOST:-0.0.0.0}:1337:1337"', '"1337"');
    expect(standbyLayout(SETTINGS, model(noPublished, ports), "bob", {}).primaryPort).toBe(8080);
  });

  it("refuses service names the compose files do not have, and a standby that is the primary", () => {
    expect(refusal({ standby: "strapi-salve" }, SEED)).toBe(
      "deploy-vps.yml:3:12: blueGreen standby 'strapi-salve' is not a service of the compose files (strapi-master, strapi-slave, strapi-dev, postgresql, redis).",
    );
    expect(refusal({ primary: "strapi" }, SEED)).toMatch(/^deploy-vps.yml:2:12: blueGreen primary 'strapi' is not a service/);
    expect(refusal({ standby: "strapi-master" }, SEED)).toBe(
      "deploy-vps.yml:3:12: blueGreen standby must be another service than the primary 'strapi-master'.",
    );
  });

  it("refuses {port} in the health URL when a service publishes none", () => {
    const unpublished = SEED.replace("        published: 1338\n", "");
    expect(refusal({}, unpublished)).toBe(
      "deploy-vps.yml:4:11: the health URL uses {port}, but service 'strapi-slave' publishes no port (compose.yaml:8:3): add one under `ports:`, as the seed's layout does.",
    );
  });

  describe("the cron rule: never two containers running with the cron variable on", () => {
    const withEnvironment = (primary: string, standby: string) =>
      `services:\n  web:\n    image: app\n    ports: ["8001:80"]\n${primary}  web-standby:\n    image: app\n    ports: ["8002:80"]\n${standby}`;
    const settings = { primary: "web", standby: "web-standby" };

    it("refuses a standby that turns it on, in any spelling, list or map form", () => {
      for (const on of ["true", "TRUE", "1", "yes", "On"]) {
        expect(refusal(settings, withEnvironment("", `    environment:\n      - CRON_ENABLED=${on}\n`))).toBe(
          "compose.yaml:9:9: web-standby's CRON_ENABLED turns its crons on; only the primary (web) may run them, or both would while the standby serves: set it to false.",
        );
      }
      expect(refusal(settings, withEnvironment("", `    environment:\n      CRON_ENABLED: yes\n`))).toMatch(/^compose.yaml:9:21: web-standby's CRON_ENABLED turns/);
      // Taken from the shell (compose's environment), as compose does for a bare name.
      const bare = withEnvironment("    environment: [CRON_ENABLED=false]\n", "    environment: [CRON_ENABLED]\n");
      expect(() => standbyLayout({ ...SETTINGS, ...settings }, model(bare), "p", { CRON_ENABLED: "on" })).toThrow(/turns its crons on/);
      expect(standbyLayout({ ...SETTINGS, ...settings }, model(bare), "p", { CRON_ENABLED: "0" }).standby).toBe("web-standby");
    });

    it("refuses a standby that leaves it unset while the primary has it on or unset (applications read unset as on)", () => {
      const message = (line: number) =>
        `compose.yaml:${line}:3: web-standby does not set CRON_ENABLED, which applications read as on when unset, so both services could run the crons while the standby serves: add \`CRON_ENABLED: "false"\` to its environment.`;
      expect(refusal(settings, withEnvironment("", ""))).toBe(message(5));
      expect(refusal(settings, withEnvironment("    environment: {CRON_ENABLED: 'true'}\n", ""))).toBe(message(6));
      expect(refusal(settings, withEnvironment("    environment: {OTHER: 1}\n", "    environment: {OTHER: 1}\n"))).toBe(message(6));
    });

    it("accepts a standby that turns it off, and an unset standby beside a primary that turns it off", () => {
      expect(refusal(settings, withEnvironment("", "    environment: [CRON_ENABLED=false]\n"))).toBe("accepted");
      expect(refusal(settings, withEnvironment("    environment: {CRON_ENABLED: 'no'}\n", ""))).toBe("accepted");
      expect(refusal({ ...settings, cronVariable: "RUN_JOBS" }, withEnvironment("", "    environment: [RUN_JOBS=0, CRON_ENABLED=1]\n"))).toBe("accepted");
    });
  });
});
