// Loads TypeScript modules of this package from a Node script: bundles them with esbuild (the bundler
// wrangler itself uses) into a temporary ESM file and imports that. Node cannot run our sources as-is
// because they use bundler-style extensionless imports.
//
// The bundle carries an inline source map and source maps are switched on before it is imported, so a
// stack trace through it names the project's files (src/client/http.ts:40), not the bundle, which is
// deleted as soon as it is loaded.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** `import … from "exoflare"` inside this repository: the sources, as tsconfig.json's `paths` say. */
export const PACKAGE_ALIASES = {
  "exoflare/client": join(root, "src", "client", "index.ts"),
  exoflare: join(root, "src", "sdk", "index.ts"),
};

/**
 * Imports one module (`"src/client/index.ts"`) or several at once (an array: their exports merged, in one
 * bundle, so they share one copy of what they import).
 */
export async function loadTs(relativeEntries) {
  const entries = Array.isArray(relativeEntries) ? relativeEntries : [relativeEntries];
  const dir = mkdtempSync(join(tmpdir(), "exoflare-"));
  const outfile = join(dir, "module.mjs");
  try {
    await build({
      stdin: {
        contents: entries.map((e) => `export * from ${JSON.stringify(`./${e}`)};`).join("\n"),
        resolveDir: root,
        sourcefile: "loaded-modules.ts",
        loader: "ts",
      },
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node22",
      outfile,
      sourcemap: "inline",
      sourcesContent: false,
      logLevel: "error",
      // The package's own names (the example runtime imports "exoflare") resolve to the sources.
      alias: PACKAGE_ALIASES,
    });
    process.setSourceMapsEnabled(true);
    return await import(pathToFileURL(outfile).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
