import { describe, expect, it } from "vitest";
import type { StandbyLayout } from "../../../src/blue-green/plan.js";
import { PLAIN_START, proxySwitchRefusal, recordedPlan, startScript, zeroDowntimePlan } from "../../../src/blue-green/start.js";
import { EnvironmentError, InputError } from "../../../src/errors.js";

const web = { service: "web", unit: "shop", drainSeconds: 30, readySeconds: 300 };
const standby: StandbyLayout = {
  primary: "strapi-master",
  standby: "strapi-slave",
  primaryPort: 1337,
  standbyPort: 1338,
  primaryContainerPort: 1337,
  standbyContainerPort: 1337,
  others: ["postgresql"],
  health: "http://127.0.0.1:{port}/_health",
  intervalSeconds: 15,
  timeoutSeconds: 180,
  drainSeconds: 30,
  cronVariable: "CRON_ENABLED",
  unit: "shop",
};
const compose = { kind: "v2" as const, project: "shop", files: ["compose.yaml"] };

describe("zeroDowntimePlan", () => {
  it("refuses both layouts at once (exit 2), naming the blue-green services", () => {
    expect(() => zeroDowntimePlan([web], standby)).toThrow(InputError);
    expect(() => zeroDowntimePlan([web], standby)).toThrow(/both zero-downtime layouts.*web.*blueGreen: in deploy-vps.yml/);
  });

  it("keeps either one alone", () => {
    expect(zeroDowntimePlan([web])).toEqual({ blueGreen: [web] });
    expect(zeroDowntimePlan([], standby)).toEqual({ blueGreen: [], standby });
  });
});

describe("startScript", () => {
  it("runs blue-green.sh when the plan has blue-green services, compose-up.sh otherwise", () => {
    expect(startScript("/srv/shop", compose, true, { blueGreen: [web] }).code).toContain("SERVICES='web shop 30 300'");
    expect(startScript("/srv/shop", compose, true, { blueGreen: [web] }).code).toContain("' blue-green ");
    const plain = startScript("/srv/shop", compose, true, PLAIN_START).code;
    expect(plain).toContain("' compose-up ");
    expect(plain).not.toContain("SOCKET");
  });

  it("percent-encodes a unit named project/service, as it goes in the URL", () => {
    expect(startScript("/srv/shop", compose, false, { blueGreen: [{ ...web, unit: "shop/web" }] }).code).toContain("SERVICES='web shop%2Fweb 30 300'");
  });

  it("refuses a plan with both layouts", () => {
    expect(() => startScript("/srv/shop", compose, true, { blueGreen: [web], standby })).toThrow(InputError);
  });
});

describe("proxySwitchRefusal", () => {
  it("nothing to refuse without blue-green services, whatever the server has", () => {
    expect(proxySwitchRefusal({ proxySocket: false, hasCurl: false }, "vps", PLAIN_START)).toBeUndefined();
  });

  it("no control socket: exit 1, saying to install the proxy", () => {
    const error = proxySwitchRefusal({ proxySocket: false, hasCurl: true }, "vps", { blueGreen: [web] });
    expect(error).toBeInstanceOf(EnvironmentError);
    expect(error?.message).toMatch(/^web is deployed blue-green through the runtime proxy, which is not running on vps .*deploy-vps proxy install -H vps/);
  });

  it("no curl: exit 1, saying to install it", () => {
    expect(proxySwitchRefusal({ proxySocket: true, hasCurl: false }, "vps", { blueGreen: [web] })?.message).toMatch(/^vps has no curl.*apt-get install curl/);
    expect(proxySwitchRefusal({ proxySocket: true, hasCurl: true }, "vps", { blueGreen: [web] })).toBeUndefined();
  });
});

describe("recordedPlan", () => {
  it("a release recorded before plans were: a plain up -d", () => {
    expect(recordedPlan(undefined)).toEqual(PLAIN_START);
    expect(recordedPlan({})).toEqual(PLAIN_START);
    expect(recordedPlan({ zeroDowntime: { blueGreen: [web] } })).toEqual({ blueGreen: [web] });
  });
});
