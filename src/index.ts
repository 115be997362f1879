// The Worker: the HTTP API, the actors, and the queue consumer of the bundled example push runtime.
import { app } from "./api/app";
import { exampleRuntime } from "./examples/runtime";

export { NamespaceActor } from "./actors/namespace-actor";
export { ReadyQueueActor } from "./actors/ready-queue-actor";
export { RunActor } from "./actors/run-actor";

// The bundled runtime registers its nodes once per isolate, before the first API request is served, so
// the example graphs validate on a fresh `npm start` with nothing else to run.
let registered: Promise<void> | null = null;
function ensureExampleRuntime(env: Env): Promise<void> {
  registered ??= exampleRuntime.register(env).catch((e) => {
    registered = null;
    throw e;
  });
  return registered;
}

export default {
  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname.startsWith("/v0/")) await ensureExampleRuntime(env);
    return app.fetch(request, env, ctx);
  },
  async queue(batch, env) {
    await exampleRuntime.queue(batch, env);
  },
} satisfies ExportedHandler<Env>;
