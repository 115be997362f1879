// The Worker: the HTTP API, the actors, and the queue consumer of the bundled example push runtime.
import { app } from "./api/app";

export { NamespaceActor } from "./actors/namespace-actor";
export { RunActor } from "./actors/run-actor";

export default {
  fetch: app.fetch,
  async queue(batch: MessageBatch): Promise<void> {
    batch.ackAll();
  },
} satisfies ExportedHandler<Env>;
