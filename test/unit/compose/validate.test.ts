// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose interpolation is the test data
import { describe, expect, it } from "vitest";
import { ComposeInputError, parseCompose } from "../../../src/compose/parse.js";
import { type ComposeProblem, imageReferenceProblem, parsedProblems, type ValidateOptions } from "../../../src/compose/validate.js";

/** What compose would refuse in a file's text: the parse's refusal, else the schema's and the images'. */
function composeProblems(path: string, text: string, options: ValidateOptions = {}): ComposeProblem[] {
  try {
    return parsedProblems(parseCompose(path, text), options);
  } catch (error) {
    if (!(error instanceof ComposeInputError)) throw error;
    return [{ line: error.line, col: error.col, message: error.problem }];
  }
}

const lines = (...l: string[]) => `${l.join("\n")}\n`;
const first = (text: string, override = false) => {
  const [problem] = composeProblems("c.yml", text, { override });
  return problem && `${problem.line}:${problem.col}: ${problem.message}`;
};

describe("composeProblems", () => {
  it.each([
    [
      "a service name compose refuses",
      lines("services:", "  web:", "    image: nginx", "  a;touch x:", "    image: nginx"),
      '4:3: services: "a;touch x" is not a valid name (it must match ^[a-zA-Z0-9._-]+$)',
    ],
    [
      "an image reference docker refuses",
      lines("services:", "  web:", '    image: "local/busybox:latest;x"'),
      '3:12: service "web": image "local/busybox:latest;x": invalid reference format',
    ],
    ["an unknown top-level key", lines("servics:", "  web: {image: nginx}"), '1:1: the top level: unknown key "servics"'],
    [
      "an unknown service key",
      lines("services:", "  web:", "    image: nginx", "    enviroment: [A=1]"),
      '4:5: services.web: unknown key "enviroment"',
    ],
    [
      "a wrong type",
      lines("services:", "  web:", "    image: nginx", "    ports: 80"),
      "4:12: services.web.ports must be a list",
    ],
    [
      "a value outside an enum",
      lines("services:", "  web:", "    image: nginx", "    depends_on:", "      db: {condition: started}", "  db:", "    image: pg"),
      '5:23: services.web.depends_on.db.condition must be one of "service_started", "service_healthy", "service_completed_successfully"',
    ],
    [
      "a missing required key",
      lines("services:", "  web:", "    image: nginx", "    depends_on:", "      db: {restart: true}", "  db:", "    image: pg"),
      '5:11: services.web.depends_on.db lacks the required key "condition"',
    ],
    [
      "an unknown key brought in by a merge key, at its definition",
      lines("x-base: &base", "  image: nginx", "  restart_policy: always", "services:", "  web:", "    <<: *base"),
      '3:3: services.web: unknown key "restart_policy"',
    ],
    [
      "a bad key in the second YAML document",
      lines("services:", "  web:", "    image: nginx", "---", "services:", "  web:", "    imgae: nginx"),
      '7:5: services.web: unknown key "imgae"',
    ],
  ])("finds %s, at its line and column", (_, text, expected) => {
    expect(first(text)).toBe(expected);
  });

  it("passes a real-world file with interpolation, anchors, extensions and long syntax", () => {
    const text = lines(
      "name: ${PROJECT_NAME:-shop}",
      "x-logging: &logging",
      "  driver: json-file",
      "  options: {max-size: 10m}",
      "x-env: &env",
      "  TZ: ${TZ:-UTC}",
      "services:",
      "  web:",
      "    build:",
      "      context: .",
      "      args: [\"VERSION=${VERSION}\"]",
      "    image: ${REGISTRY:-ghcr.io/acme}/web:${TAG:-latest}",
      "    pull_policy: ${PULL_POLICY}",
      '    ports: ["${HTTP_PORT:-8080}:80", "127.0.0.1:${ADMIN}:9000"]',
      "    cpus: ${CPUS}",
      "    oom_score_adj: ${OOM:-0}",
      "    shm_size: ${SHM:-64m}",
      "    read_only: ${READ_ONLY:-false}",
      "    restart: unless-stopped",
      "    environment:",
      "      <<: *env",
      "      DB_URL: postgres://db/${DB}",
      "    logging: *logging",
      "    depends_on:",
      "      db: {condition: service_healthy, restart: true}",
      "    healthcheck:",
      "      test: [CMD, curl, -f, http://localhost]",
      "      interval: 10s",
      "      retries: ${RETRIES}",
      "    volumes:",
      "      - ./data:/data:ro",
      "      - {type: bind, source: ./conf, target: /conf, read_only: true}",
      "    deploy:",
      "      resources: {limits: {cpus: '0.5', memory: 256M}}",
      "    x-notes: anything",
      "  db:",
      "    image: postgres:16-alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "    container_name: ${PROJECT_NAME}-db",
      "    logging: *logging",
      "volumes:",
      "  data: {}",
      "networks:",
      "  default: {name: shop}",
    );
    expect(composeProblems("compose.yaml", text)).toEqual([]);
  });

  it("leaves required keys to the merged model in an override file", () => {
    const override = lines("services:", "  web:", "    depends_on:", "      db: {restart: true}");
    expect(first(override, true)).toBeUndefined();
    expect(first(override)).toBe('4:11: services.web.depends_on.db lacks the required key "condition"');
    // An override is still checked for everything else.
    expect(first(lines("services:", "  web:", "    prots: [80]"), true)).toBe('3:5: services.web: unknown key "prots"');
  });

  it("skips what a !reset tag empties", () => {
    expect(first(lines("services:", "  web:", "    image: nginx", "    ports: !reset null"), true)).toBeUndefined();
  });

  it("reports problems of the text itself at their position", () => {
    expect(first("services:\n  web:\n    image: a\u0000b\n")).toBe("3:13: character U+0000 is not allowed in YAML");
    expect(first("services:\n  web\n    image: x\n")).toMatch(/^\d+:\d+: /);
  });
});

describe("imageReferenceProblem", () => {
  it.each([
    "nginx",
    "nginx:1.27-alpine",
    "library/nginx",
    "ghcr.io/acme/web:1.4.2",
    "localhost:5000/a/b_c__d.e-f:tag",
    "[::1]:5000/web",
    "acme/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "4e5021d210f6",
    "${REGISTRY}/web:${TAG}",
    "",
  ])("accepts %j", (image) => {
    expect(imageReferenceProblem(image)).toBeUndefined();
  });

  it.each([
    ["local/busybox:latest;x", "invalid reference format"],
    ["a b", "invalid reference format"],
    ["web:", "invalid reference format"],
    ["-web", "invalid reference format"],
    ["web:-tag", "invalid reference format"],
    ["Acme/Web", "repository names must be lowercase"],
    [`a/${"b".repeat(255)}`, "the repository name is longer than 255 characters"],
    ["$$literal", "invalid reference format"],
  ])("refuses %j: %s", (image, problem) => {
    expect(imageReferenceProblem(image)).toBe(problem);
  });
});
