// Loads a TypeScript module of this package from a Node script: bundles it with esbuild (the bundler
// wrangler itself uses) into a temporary ESM file and imports that. Node cannot run our sources as-is
// because they use bundler-style extensionless imports.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export async function loadTs(relativeEntry) {
  const dir = mkdtempSync(join(tmpdir(), "exoflare-"));
  const outfile = join(dir, "module.mjs");
  try {
    await build({
      entryPoints: [join(root, relativeEntry)],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node22",
      outfile,
      logLevel: "error",
    });
    return await import(pathToFileURL(outfile).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
