// The web page (README "The web page"): `/` and `/ui/*`, served by the Worker from the files bundled into
// it (web-page/files.js), with the page's security headers and an ETag so that a browser revalidates
// instead of downloading again. A path that names no file of the page is left to the API's routes.
import { type Context, Hono } from "hono";
import type { AppEnv } from "../env";
import { WEB_PAGE_FILES } from "../web-page/files.js";

/** The page loads only its own scripts, styles and API: no inline code, no framing. */
const SECURITY_HEADERS = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

/** Each file's ETag (a digest of its text), computed once per isolate. */
const etags = new Map<string, Promise<string>>();

function etagOf(path: string, body: string): Promise<string> {
  let tag = etags.get(path);
  if (tag === undefined) {
    tag = crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)).then((d) => {
      const hex = [...new Uint8Array(d).slice(0, 12)].map((b) => b.toString(16).padStart(2, "0")).join("");
      return `"${hex}"`;
    });
    etags.set(path, tag);
  }
  return tag;
}

async function serve(path: string, ifNoneMatch: string | undefined): Promise<Response | null> {
  const file = WEB_PAGE_FILES[path];
  if (file === undefined) return null;
  const etag = await etagOf(path, file.body);
  const headers = {
    ...SECURITY_HEADERS,
    "Content-Type": file.type,
    ETag: etag,
    // Always revalidated: a new deployment's page is seen at once, an unchanged one costs a 304.
    "Cache-Control": "no-cache",
  };
  const matches = ifNoneMatch?.split(",").some((t) => t.trim() === etag || t.trim() === "*") ?? false;
  return matches ? new Response(null, { status: 304, headers }) : new Response(file.body, { headers });
}

/** Answers the page's file at `path` (the request's own path when absent), or the API's 404. */
const file = (path?: string) => async (c: Context<AppEnv>) =>
  (await serve(path ?? c.req.path, c.req.header("if-none-match"))) ?? c.notFound();

export const webPageRoutes = new Hono<AppEnv>()
  .get("/", file("/index.html"))
  .get("/index.html", file())
  .get("/ui/:file", file());
