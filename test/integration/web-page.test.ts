// The web page, served by the engine Worker itself from the files of public/ bundled into it: each file
// with its type and the page's security headers, revalidated by ETag, without a key; a path that names
// no file of the page answers the API's JSON 404.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { WEB_PAGE_FILES } from "../../src/api/web-page/files.js";

const get = (path: string, headers: Record<string, string> = {}) =>
  exports.default.fetch(new Request(`https://engine.test${path}`, { headers }));

describe("the web page", () => {
  it("serves index.html at / with the page's security headers, without a key", async () => {
    const res = await get("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/ui/app.js"></script>');
  });

  it("serves every module and the stylesheet the page loads, each with its type and text", async () => {
    const paths = Object.keys(WEB_PAGE_FILES).filter((p) => p.startsWith("/ui/"));
    expect(paths).toContain("/ui/app.js");
    expect(paths).toContain("/ui/style.css");
    for (const path of paths) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type"), path).toBe(
        path.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8",
      );
      expect(await res.text(), path).toBe(WEB_PAGE_FILES[path]?.body);
    }
    // The modules import each other by these paths: every import of the page names a file it serves.
    for (const path of paths.filter((p) => p.endsWith(".js"))) {
      const text = WEB_PAGE_FILES[path]?.body ?? "";
      for (const [, name] of text.matchAll(/from "\.\/([\w-]+\.js)"/g)) {
        expect(WEB_PAGE_FILES[`/ui/${name}`], `${path} imports ./${name}`).toBeDefined();
      }
    }
  });

  it("answers 304 to a browser that has the file already, and 200 when it changed", async () => {
    const first = await get("/ui/app.js");
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^"[0-9a-f]{24}"$/);
    expect(first.headers.get("cache-control")).toBe("no-cache");
    const again = await get("/ui/app.js", { "if-none-match": etag ?? "" });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    const other = await get("/ui/app.js", { "if-none-match": '"0000"' });
    expect(other.status).toBe(200);
    // Another file has another tag.
    expect((await get("/ui/dom.js")).headers.get("etag")).not.toBe(etag);
  });

  it("answers the API's JSON 404 for a path that names no file of the page", async () => {
    for (const path of ["/ui/nope.js", "/ui/../wrangler.toml", "/public/index.html"]) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(await res.json(), path).toEqual({ detail: "Not Found" });
    }
  });
});
