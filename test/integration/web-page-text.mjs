// The web page's files are text inside the engine: src/api/web-page/files.js imports them with
// `with { type: "text" }`, which esbuild (wrangler, the package build) reads and Vite does not. This Vite
// plugin makes each import of a file of public/ from there a module whose default export is the file's
// text, so the tests run the engine as it is deployed. Plain JavaScript so that vitest.config.ts needs no
// Node types.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PUBLIC_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "public");
const AS_TEXT = "\0web-page-text:";
const SUFFIX = ".text.js";

export function webPageAsText() {
  return {
    name: "web-page-as-text",
    enforce: "pre",
    resolveId(source, importer) {
      if (!importer?.includes("/src/api/web-page/")) return null;
      const path = resolve(dirname(importer), source);
      return path.startsWith(`${PUBLIC_DIR}/`) ? `${AS_TEXT}${path}${SUFFIX}` : null;
    },
    load(id) {
      if (!id.startsWith(AS_TEXT)) return null;
      const path = id.slice(AS_TEXT.length, -SUFFIX.length);
      return `export default ${JSON.stringify(readFileSync(path, "utf8"))};`;
    },
  };
}
