// The engine Worker: the HTTP API, the actors, and the RPC entrypoint that runtime Workers bind to. It
// bundles no runtime: user nodes live in their own Workers (examples/runtime/ is one).
import { engineWorker } from "./worker";

export { DirectoryActor } from "./actors/directory-actor";
export { NamespaceActor } from "./actors/namespace-actor";
export { ReadyQueueActor } from "./actors/ready-queue-actor";
export { RunActor } from "./actors/run-actor";
export { RuntimeEntrypoint } from "./api/runtime/entrypoint";

export default engineWorker;
