// The two bundles `npm run build` makes after tsc, each one file that Node loads at once:
//  - dist/proxy/daemon.mjs, the runtime proxy's daemon, copied to the server beside its pages;
//  - dist/cli.js, the CLI, in place of tsc's own dist/cli.js: one file to load instead of a few
//    hundred modules makes each run start in far less CPU time, which a busy server and a test
//    suite of many runs both feel.
// tsc's other modules stay in dist/ for the tests and the benchmark that import them.
import { readFile } from "node:fs/promises";
import { dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const src = `${root}src/`;

// ssh2 and its helpers are CommonJS that call require() and read __dirname at run time.
const commonJs = [
  "import { createRequire as __bundleRequire } from 'node:module';",
  "import { fileURLToPath as __bundlePath } from 'node:url';",
  "const require = __bundleRequire(import.meta.url);",
  "const __filename = __bundlePath(import.meta.url);",
  "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
].join(" ");

/**
 * A module of the CLI finds its files (its .sh scripts, the daemon and its pages, package.json)
 * from its own import.meta.url. In the bundle every module shares dist/cli.js's, so each one's is
 * rewritten to the URL its tsc output has in dist/.
 */
const ownModuleUrl = {
  name: "own-module-url",
  setup(bundler) {
    bundler.onLoad({ filter: /\/src\/.*\.ts$/ }, async ({ path }) => {
      const text = await readFile(path, "utf8");
      if (!text.includes("import.meta.url")) return undefined;
      const built = `./${relative(src, path).replace(/\.ts$/, ".js")}`;
      const rewritten = text.replaceAll("import.meta.url", `new URL(${JSON.stringify(built)}, import.meta.url).href`);
      return { contents: rewritten, loader: "ts", resolveDir: dirname(path) };
    });
  },
};

const common = { bundle: true, platform: "node", target: "node20", format: "esm", logLevel: "warning", banner: { js: commonJs } };

await Promise.all([
  build({ ...common, entryPoints: [`${src}proxy/main.ts`], outfile: `${root}dist/proxy/daemon.mjs` }),
  // ssh2's optional native helpers stay outside: required at run time when installed, skipped when not.
  build({ ...common, entryPoints: [`${src}cli.ts`], outfile: `${root}dist/cli.js`, external: ["cpu-features", "*.node"], plugins: [ownModuleUrl] }),
]);
