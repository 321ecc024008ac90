import { describe, expect, it } from "vitest";
import { bindMounts, buildContexts } from "../../../src/init/mounts.js";

const lines = (...l: string[]) => `${l.join("\n")}\n`;

describe("bindMounts", () => {
  it("lists relative bind-mount folders inside the project, short and long syntax", () => {
    const text = lines(
      "services:",
      "  db:",
      "    image: postgres",
      "    volumes:",
      "      - ./data/postgres/:/var/lib/postgresql/data",
      "      - pgdata:/named",
      "      - /srv/abs:/abs",
      "      - ../outside:/outside",
      "      - .:/app",
      "      - ./config/nginx.conf:/etc/nginx/nginx.conf:ro",
      "      - ./${DATA_DIR}:/interpolated",
      "  web:",
      "    image: web",
      "    volumes:",
      "      - type: bind",
      "        source: ./uploads",
      "        target: /app/uploads",
      "      - type: bind",
      "        source: ./seed",
      "        target: /seed",
      "        read_only: true",
      "      - type: volume",
      "        source: cache",
      "        target: /cache",
      "volumes: { pgdata: {}, cache: {} }",
    );
    expect(bindMounts(text)).toEqual([
      { service: "db", source: "data/postgres", readOnly: false },
      { service: "db", source: "config/nginx.conf", readOnly: true },
      { service: "web", source: "uploads", readOnly: false },
      { service: "web", source: "seed", readOnly: true },
    ]);
  });

  it("gives nothing for a text without services or that does not parse", () => {
    expect(bindMounts("name: x\n")).toEqual([]);
    expect(bindMounts("services: [\n")).toEqual([]);
  });
});

describe("buildContexts", () => {
  it("lists each context inside the project once", () => {
    const text = lines(
      "services:",
      "  web: { build: ./apps/web/ }",
      "  api: { build: { context: apps/api, dockerfile: Dockerfile } }",
      "  worker: { build: { dockerfile: worker.Dockerfile } }",
      "  again: { build: ./apps/web }",
      "  remote: { build: https://github.com/acme/x.git }",
      "  git: { build: 'git@github.com:acme/x.git' }",
      "  up: { build: ../shared }",
      "  db: { image: postgres }",
    );
    expect(buildContexts(text)).toEqual(["apps/web", "apps/api", "."]);
  });
});
