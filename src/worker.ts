// The engine Worker's handlers: the HTTP API and the web page (src/api/routes/web-page.ts). It runs no
// user code: push runtimes are Workers of their own that consume their own queues and call the engine
// through the RuntimeEntrypoint (src/api/runtime/entrypoint.ts) or over HTTPS.
import { app } from "./api/app";

export const engineWorker: ExportedHandler<Env> = {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
};
