import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { blueGreenServices, blueGreenWishes } from "../../../src/blue-green/labels.js";
import { loadComposeModel } from "../../../src/compose/model.js";
import { InputError } from "../../../src/errors.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "blue-green-labels-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes the compose files (path -> lines) and reads the project's model as a deploy does. */
async function wishes(files: Record<string, string[]>) {
  for (const [path, lines] of Object.entries(files)) await writeFile(join(dir, path), `${lines.join("\n")}\n`);
  return blueGreenWishes(await loadComposeModel(dir, Object.keys(files), {}));
}

/** The refusal's one line (an InputError, or the test fails). */
async function refusal(files: Record<string, string[]>): Promise<string> {
  const error = await wishes(files).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  return (error as InputError).message;
}

const routed = ["      deploy-vps.proxy.host: shop.example.com", "      deploy-vps.proxy.port: 3000"];

describe("blueGreenWishes", () => {
  it("reads the services labelled blue-green, with the default drain and the route's start timeout as the ready time", async () => {
    const found = await wishes({
      "compose.yaml": ["services:", "  web:", "    image: shop/web", "    labels:", ...routed, "      deploy-vps.proxy.deploy: blue-green", "  db:", "    image: postgres", "    ports: ['5432:5432']"],
    });
    expect(found).toEqual([{ service: "web", drainSeconds: 30, readySeconds: 300, sharesProject: false }]);
    expect(blueGreenServices(found, "shop")).toEqual([{ service: "web", unit: "shop", drainSeconds: 30, readySeconds: 300 }]);
  });

  it("takes drain and start-timeout labels, as a list of key=value too, `30s` as `30`", async () => {
    const found = await wishes({
      "compose.yaml": [
        "services:",
        "  web:",
        "    image: shop/web",
        "    labels:",
        "      - deploy-vps.proxy.host=shop.example.com",
        "      - deploy-vps.proxy.port=3000",
        "      - deploy-vps.proxy.deploy=blue-green",
        "      - deploy-vps.proxy.drain=45s",
        "      - deploy-vps.proxy.start-timeout=2m",
      ],
    });
    expect(found).toEqual([{ service: "web", drainSeconds: 45, readySeconds: 120, sharesProject: false }]);
  });

  it("a bare number of seconds for the drain, 0 allowed (cut at once)", async () => {
    const found = await wishes({
      "compose.yaml": ["services:", "  web:", "    image: shop/web", "    labels:", ...routed, "      deploy-vps.proxy.deploy: blue-green", "      deploy-vps.proxy.drain: 0"],
    });
    expect(found[0]?.drainSeconds).toBe(0);
  });

  it("names the unit project/service when the project routes several services, as the proxy does", async () => {
    const found = await wishes({
      "compose.yaml": [
        "services:",
        "  web:",
        "    image: shop/web",
        "    labels:",
        ...routed,
        "      deploy-vps.proxy.deploy: blue-green",
        "  admin:",
        "    image: shop/admin",
        "    labels:",
        "      deploy-vps.proxy.host: admin.example.com",
        "      deploy-vps.proxy.port: 8080",
      ],
    });
    expect(blueGreenServices(found, "shop")).toEqual([{ service: "web", unit: "shop/web", drainSeconds: 30, readySeconds: 300 }]);
  });

  it("merges the files as compose does: a later file's label wins, a label an override adds counts", async () => {
    const found = await wishes({
      "compose.yaml": ["services:", "  web:", "    image: shop/web", "    labels:", ...routed, "      deploy-vps.proxy.drain: 10"],
      "compose.prod.yaml": ["services:", "  web:", "    labels:", "      deploy-vps.proxy.deploy: blue-green", "      deploy-vps.proxy.drain: 20"],
    });
    expect(found).toEqual([{ service: "web", drainSeconds: 20, readySeconds: 300, sharesProject: false }]);
  });

  it("finds none in a project without the label", async () => {
    expect(await wishes({ "compose.yaml": ["services:", "  web:", "    image: shop/web", "    ports: ['80:80']", "    labels:", ...routed] })).toEqual([]);
  });
});

describe("blueGreenWishes refuses, naming file:line:col", () => {
  it("another value of the deploy label", async () => {
    expect(
      await refusal({ "compose.yaml": ["services:", "  web:", "    image: shop/web", "    labels:", ...routed, "      deploy-vps.proxy.deploy: rolling"] }),
    ).toBe(`compose.yaml:7:7: label deploy-vps.proxy.deploy on service "web": 'rolling' is not a deploy mode deploy-vps knows (blue-green)`);
  });

  it("ports: on a blue-green service, saying why and pointing at the primary/standby layout", async () => {
    const message = await refusal({
      "compose.yaml": ["services:", "  web:", "    image: shop/web", "    ports:", "      - 8080:3000", "    labels:", ...routed, "      deploy-vps.proxy.deploy: blue-green"],
    });
    expect(message).toMatch(/^compose\.yaml:4:5: service "web" is deployed blue-green/);
    expect(message).toContain("two containers cannot hold one host port");
    expect(message).toContain("`blueGreen:` in deploy-vps.yml");
    expect(message).not.toContain("\n");
  });

  it("ports: added by an override file, at that file's line", async () => {
    const message = await refusal({
      "compose.yaml": ["services:", "  web:", "    image: shop/web", "    labels:", ...routed, "      deploy-vps.proxy.deploy: blue-green"],
      "compose.override.yaml": ["services:", "  web:", "    ports: ['8080:3000']"],
    });
    expect(message).toMatch(/^compose\.override\.yaml:3:5: /);
  });

  it("container_name: on a blue-green service", async () => {
    const message = await refusal({
      "compose.yaml": ["services:", "  web:", "    image: shop/web", "    container_name: shop-web", "    labels:", ...routed, "      deploy-vps.proxy.deploy: blue-green"],
    });
    expect(message).toMatch(/^compose\.yaml:4:5: service "web" is deployed blue-green .*cannot have `container_name:`.*two containers cannot hold one name/);
  });

  it("a blue-green service the proxy does not route", async () => {
    expect(
      await refusal({ "compose.yaml": ["services:", "  worker:", "    image: shop/worker", "    labels:", "      deploy-vps.proxy.deploy: blue-green"] }),
    ).toMatch(/^compose\.yaml:5:7: service "worker" is deployed blue-green but the proxy does not route it: .*deploy-vps\.proxy\.host/);
  });

  it("a drain that is no duration", async () => {
    expect(
      await refusal({
        "compose.yaml": ["services:", "  web:", "    image: shop/web", "    labels:", ...routed, "      deploy-vps.proxy.deploy: blue-green", "      deploy-vps.proxy.drain: soon"],
      }),
    ).toBe(`compose.yaml:8:7: label deploy-vps.proxy.drain on service "web": 'soon' is not a duration (e.g. 30, 30s, 2m)`);
  });
});
