// The engine Worker's handlers, parameterised by the push runtimes it serves on its dispatch queue.
import { app } from "./api/app";
import { type Runtime, serveRuntimes } from "./sdk/runtime";

export function engineWorker(runtimes: Runtime[]): ExportedHandler<Env> {
  const served = serveRuntimes(runtimes);
  // Bundled runtimes register their nodes once per isolate, before the first API request is served, so
  // their graphs validate on a fresh `npm start` with nothing else to run.
  let registered: Promise<void> | null = null;
  const ensureRegistered = (env: Env): Promise<void> => {
    registered ??= served.register(env).catch((e) => {
      registered = null;
      throw e;
    });
    return registered;
  };
  return {
    async fetch(request, env, ctx) {
      if (new URL(request.url).pathname.startsWith("/v0/")) {
        // A failed registration must not fail the request: it is tried again on the next one.
        await ensureRegistered(env).catch((e) =>
          console.error("registering the bundled runtimes failed", e instanceof Error ? e.message : e),
        );
      }
      return app.fetch(request, env, ctx);
    },
    async queue(batch, env) {
      await served.queue(batch, env);
    },
  };
}
