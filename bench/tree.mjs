// The benchmark's synthetic monorepo, deterministic from its seed.
import { mkdirSync, truncateSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** mulberry32: a small seeded PRNG, so that the tree is the same on every run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function write(root, path, content) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
}

/** A monorepo like the seed's: source files, incompressible assets, and heavy skipped folders. */
export function generate(root, files, assetsMb, skippedMb, seed) {
  const random = prng(seed);
  const words = ["const", "export", "function", "return", "await", "import", "from", "props", "state", "render", "value", "index", "user", "order", "price"];
  for (let i = 0; i < files; i++) {
    const lines = 10 + Math.floor(random() * 150);
    let text = "";
    for (let l = 0; l < lines; l++) {
      const n = 3 + Math.floor(random() * 8);
      for (let w = 0; w < n; w++) text += `${words[Math.floor(random() * words.length)]}${Math.floor(random() * 100)} `;
      text += "\n";
    }
    write(root, `apps/app-${i % 6}/src/module-${String(i).padStart(5, "0")}.ts`, text);
  }
  const asset = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < assetsMb; i++) {
    for (let b = 0; b < asset.length; b += 4) asset.writeUInt32LE(Math.floor(random() * 4294967296), b);
    write(root, `apps/app-${i % 6}/public/asset-${i}.webp`, asset);
  }
  // Skipped folders: sparse files (cheap to make) and many small ones, as node_modules has.
  for (const [folder, share] of [["node_modules", 0.6], ["apps/app-0/.next", 0.2], [".git", 0.2]]) {
    write(root, `${folder}/pack.bin`, "");
    truncateSync(join(root, `${folder}/pack.bin`), Math.floor(skippedMb * share * 1024 * 1024));
    for (let i = 0; i < 500; i++) write(root, `${folder}/pkg-${i}/index.js`, "module.exports = 1;\n");
  }
  write(root, "dist/bundle.js", "built\n");
  write(root, "compose.yaml", "name: bench\nservices:\n  app:\n    image: local/busybox:latest\n    command: [\"sleep\", \"2147483647\"]\n    init: true\n");
  write(root, ".env.example", "APP_SECRET=\n");
}

