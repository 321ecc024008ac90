/**
 * Paths and file names are data, never shell code: an app folder whose name holds a quote, a
 * command substitution and double quotes, and files named with spaces, quotes, `$`, a leading
 * `-` and a newline, all shipped, listed and removed exactly.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, onServer, projectCopy, removeStack, runCli, shq, uniqueName } from "./harness.js";

const PWNED = "/tmp/pwned";
const quotePort = await freePort();
const namesPort = await freePort();
const pwnedOnServer = () => onServer(`test -e ${PWNED} && echo present || echo absent`).trim();

function write(root: string, path: string, content: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
}

/** The content of a file on the server, by its path relative to the deploy user's home. */
function serverFile(path: string): string {
  return onServer(`cat -- "$HOME"/${shq(path)}`);
}

/** Every path under an app folder on the server (NUL-separated, so a newline is just a character). */
function serverTree(app: string): string[] {
  return onServer(`cd -- "$HOME"/${shq(app)} && find . -print0`)
    .split("\0")
    .filter(Boolean)
    .sort();
}

/** The demo's web page, once its container answers (a deploy with --settle 0 does not wait). */
async function page(port: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`);
      if (response.ok) return await response.text();
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) throw new Error(`nothing answers on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

beforeAll(() => {
  rmSync(PWNED, { force: true });
  onServer(`rm -f ${PWNED}`);
  expect(existsSync(PWNED)).toBe(false);
  expect(pwnedOnServer()).toBe("absent");
});

describe("the app folder `~/apps/it's $(touch /tmp/pwned) \"x\"`", () => {
  // The slashes of /tmp/pwned make it three folders deep: apps/"it's $(touch "/tmp/"pwned) "x"",
  // with its state folder beside its last part, in apps/"it's $(touch "/tmp/.deploy-vps/.
  const top = "apps/it's $(touch ";
  const app = `apps/it's $(touch ${PWNED}) "x"`;
  const state = `${posix.dirname(app)}/.deploy-vps/${posix.basename(app)}`;
  const name = uniqueName("e2e-quote");
  const port = quotePort;
  const cleanUp = () => {
    removeStack(name, app);
    onServer(`rm -rf -- "$HOME"/${shq(top)}`);
  };

  // A run that failed half-way may have left this fixed folder behind: start from nothing.
  beforeAll(cleanUp);
  afterAll(cleanUp);

  it("is deployed to that exact folder, runs, and runs no command from its name", async () => {
    const dir = projectCopy("compose/demo", name);
    // The compose project name cannot come from this folder name: it is set in the config.
    writeFileSync(join(dir, "deploy-vps.yml"), `name: ${name}\n`);
    const run = await runCli([dir, "--path", `~/${app}`, "--settle", "0"], { DEMO_PORT: port });
    expect(run.stderr).not.toContain("    at ");
    expect(run.code).toBe(0);

    const home = onServer(`printf %s "$HOME"`);
    expect(run.stdout).toContain(`:${home}/${app} `);
    expect(onServer(`ls -A -- "$HOME"/${shq(app)}`).split("\n").filter(Boolean).sort()).toEqual(
      [".env", ".env.example", "compose.deploy-vps.yaml", "compose.yaml", "data", "deploy-vps.yml", "web"].sort(),
    );
    expect(serverFile(`${app}/web/site/index.html.in`)).toBe(readFileSync(join(dir, "web/site/index.html.in"), "utf8"));
    expect(serverFile(`${state}/project`).trim()).toBe(name);
    // Exactly these folders, and nothing made from a name cut at a space or a quote.
    expect(onServer(`cd -- "$HOME"/apps && find ${shq(top.slice("apps/".length))} -maxdepth 2 | sort`)).toBe(
      [top, `${top}/tmp`, `${top}/tmp/.deploy-vps`, `${top}/tmp/pwned) "x"`]
        .map((path) => path.slice("apps/".length))
        .sort()
        .map((path) => `${path}\n`)
        .join(""),
    );
    expect(
      onServer(`ls -A -- "$HOME"/apps`)
        .split("\n")
        .filter((entry) => /pwned|touch|^it|^"?x"?$/.test(entry)),
    ).toEqual([top.slice("apps/".length)]);
    expect(
      onServer(
        `docker ps --filter label=com.docker.compose.project=${shq(name)} --format '{{.Label "com.docker.compose.project.working_dir"}}' | sort -u`,
      ),
    ).toBe(`${home}/${app}\n`);

    expect(await page(port)).toContain("<h1>Hello from deploy-vps</h1>");
    expect(existsSync(PWNED)).toBe(false);
    expect(pwnedOnServer()).toBe("absent");
  });
});

describe("file names with spaces, quotes, `$`, a leading `-` and a newline", () => {
  const name = uniqueName("e2e-names");
  const app = `apps/${name}`;
  const port = namesPort;
  const weird: Record<string, string> = {
    "web/site/-rf": "named like an option\n",
    "web/site/it's $HOME.txt": "a quote, a space and a dollar\n",
    "web/site/a\nb.txt": "a newline in the name\n",
    'web/site/say "hi" `id`;.txt': "double quotes, backticks and a semicolon\n",
  };
  // Names a broken quoting would hit instead: the halves of the newline name, a prefix.
  const plain: Record<string, string> = {
    "web/site/a": "plain a\n",
    "web/site/b.txt": "plain b\n",
    "web/site/it's": "a prefix of a weird name\n",
  };
  let dir: string;
  let before: string[];
  // ./data is the db container's: it writes there on its own schedule.
  const tree = () => serverTree(app).filter((path) => !path.startsWith("./data/"));

  afterAll(() => removeStack(name, app));

  it("ships them intact", async () => {
    dir = projectCopy("compose/demo", name);
    for (const [path, content] of Object.entries({ ...weird, ...plain })) write(dir, path, content);
    const run = await runCli([dir, "--path", `~/${app}`, "--settle", "0"], { DEMO_PORT: port });
    expect(run.stderr).not.toContain("    at ");
    expect(run.code).toBe(0);
    for (const [path, content] of Object.entries({ ...weird, ...plain })) expect(serverFile(`${app}/${path}`)).toBe(content);
    before = tree();
    for (const path of Object.keys({ ...weird, ...plain })) expect(before).toContain(`./${path}`);
    expect(existsSync(PWNED)).toBe(false);
  });

  it("a redeploy that changes them sends only them and writes them in the app folder", async () => {
    for (const [path, content] of Object.entries(weird)) write(dir, path, `${content}changed\n`);
    const run = await runCli([dir, "--path", `~/${app}`, "--settle", "0", "--json"], { DEMO_PORT: port });
    expect(run.stderr).not.toContain("    at ");
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).upload).toMatchObject({ mode: "incremental", sent: Object.keys(weird).length });
    for (const [path, content] of Object.entries(weird)) expect(serverFile(`${app}/${path}`)).toBe(`${content}changed\n`);
    for (const [path, content] of Object.entries(plain)) expect(serverFile(`${app}/${path}`)).toBe(content);
    expect(tree()).toEqual(before);
  });

  it("a redeploy without them removes exactly them", async () => {
    for (const path of Object.keys(weird)) unlinkSync(join(dir, path));
    const run = await runCli([dir, "--path", `~/${app}`, "--settle", "0"], { DEMO_PORT: port });
    expect(run.stderr).not.toContain("    at ");
    expect(run.code).toBe(0);
    const gone = Object.keys(weird).map((path) => `./${path}`);
    expect(tree()).toEqual(before.filter((path) => !gone.includes(path)));
    for (const [path, content] of Object.entries(plain)) expect(serverFile(`${app}/${path}`)).toBe(content);
    expect(await page(port)).toContain("<h1>Hello from deploy-vps</h1>");
  });
});

describe("afterwards", () => {
  it("no name ran as a command, here or on the server", () => {
    expect(existsSync(PWNED)).toBe(false);
    expect(pwnedOnServer()).toBe("absent");
  });
});
