// The web page's files (public/), bundled into the engine Worker as text: the Worker serves them itself
// (routes/web-page.ts), so that the API's requests do not pass through a static-asset router first.
// Plain JavaScript so that TypeScript does not type the page's modules as code here (files.d.ts).
// Bundlers: esbuild (wrangler, the package build) reads `with { type: "text" }`; wrangler's default rules
// and the package build read `.html` as text; the tests' Vite config loads these imports as text.

import index from "../../../public/index.html";
import api from "../../../public/ui/api.js" with { type: "text" };
import app from "../../../public/ui/app.js" with { type: "text" };
import dom from "../../../public/ui/dom.js" with { type: "text" };
import graphLayout from "../../../public/ui/graph-layout.js" with { type: "text" };
import runView from "../../../public/ui/run-view.js" with { type: "text" };
import style from "../../../public/ui/style.css" with { type: "text" };

const JS = "text/javascript; charset=utf-8";

export const WEB_PAGE_FILES = {
  "/index.html": { body: index, type: "text/html; charset=utf-8" },
  "/ui/api.js": { body: api, type: JS },
  "/ui/app.js": { body: app, type: JS },
  "/ui/dom.js": { body: dom, type: JS },
  "/ui/graph-layout.js": { body: graphLayout, type: JS },
  "/ui/run-view.js": { body: runView, type: JS },
  "/ui/style.css": { body: style, type: "text/css; charset=utf-8" },
};
