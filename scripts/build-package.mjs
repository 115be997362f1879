#!/usr/bin/env node
// `npm run build` (and `npm pack`, through `prepack`): the package's JavaScript and type declarations in
// dist/, which is never committed. Three entries, as package.json's `exports` name them:
//   "exoflare"         dist/index.js   the SDK (BaseNode, createRuntime, signals, httpEngine, the contracts)
//   "exoflare/client"  dist/client.js  StateManager, PullRuntime (Node or Workers)
//   "exoflare/engine"  dist/engine.js  the engine Worker entry (its actors, RuntimeEntrypoint, default)
// bundled by esbuild as ES modules that share chunks, with the dependencies (hono, zod, croner) and
// `cloudflare:*` left as imports; the .d.ts come from tsc (tsconfig.build.json).
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");

rmSync(dist, { recursive: true, force: true });
// The Workers types the declarations refer to (worker-configuration.d.ts is generated, never committed).
const types = spawnSync(process.execPath, [join(root, "node_modules/wrangler/bin/wrangler.js"), "types"], {
  cwd: root,
  stdio: ["ignore", "ignore", "inherit"],
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
if (types.status !== 0) {
  console.error("build: `wrangler types` failed (see above)");
  process.exit(1);
}
await build({
  entryPoints: {
    index: join(root, "src/sdk/index.ts"),
    client: join(root, "src/client/index.ts"),
    engine: join(root, "src/index.ts"),
  },
  outdir: dist,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "neutral",
  target: "es2023",
  external: ["hono", "hono/*", "zod", "croner", "cloudflare:*"],
  chunkNames: "chunks/[name]-[hash]",
  // The web page's index.html, bundled into the engine as text (src/api/web-page/files.js).
  loader: { ".html": "text" },
  logLevel: "warning",
});
const tsc = spawnSync(
  process.execPath,
  [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.build.json")],
  {
    cwd: root,
    stdio: "inherit",
  },
);
if (tsc.status !== 0) {
  console.error("build: type declarations failed (see above)");
  process.exit(1);
}
console.log("build: dist/ holds the package's JavaScript and type declarations");
