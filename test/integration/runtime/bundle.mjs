// Bundles a runtime Worker for the integration tests the way wrangler would (auxiliary Workers run as built
// modules), into node_modules/.cache, which is never committed. Plain JavaScript so that vitest.config.ts
// needs no Node types.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";
import { PACKAGE_ALIASES } from "../../../scripts/lib/load-ts.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export { PACKAGE_ALIASES };

/** Bundles `entry` (relative to the repository) into `<name>.mjs` and answers that file's path. */
export function bundleRuntime(name, entry) {
  const dir = join(root, "node_modules", ".cache", "exoflare-test-runtimes");
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, `${name}.mjs`);
  buildSync({
    entryPoints: [join(root, entry)],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2023",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "import"],
    external: ["cloudflare:*"],
    alias: PACKAGE_ALIASES,
    outfile,
    logLevel: "error",
  });
  return outfile;
}
