// The web page's files bundled into the engine (src/api/web-page/files.js) are exactly the files of
// public/: a page file added without its line there would be a 404 in the browser, a line without its
// file a failed build.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const source = readFileSync(join(root, "src/api/web-page/files.js"), "utf8");

describe("the web page's bundled files", () => {
  it("import every file of public/ once, and serve each under its own path", () => {
    const onDisk = ["index.html", ...readdirSync(join(root, "public/ui")).map((f) => `ui/${f}`)].sort();
    const imported = [...source.matchAll(/from "\.\.\/\.\.\/\.\.\/public\/([^"]+)"/g)]
      .map((m) => m[1])
      .sort();
    expect(imported).toEqual(onDisk);
    const served = [...source.matchAll(/^ {2}"(\/[^"]+)": \{/gm)].map((m) => m[1].slice(1)).sort();
    expect(served).toEqual(onDisk);
    // Nothing else lives in public/ (a file there would not be served).
    expect(readdirSync(join(root, "public")).sort()).toEqual(["index.html", "ui"]);
  });
});
