// The Worker: the HTTP API, the actors, and the queue consumer of the bundled example push runtime.
import { exampleRuntime } from "./examples/runtime";
import { engineWorker } from "./worker";

export { DirectoryActor } from "./actors/directory-actor";
export { NamespaceActor } from "./actors/namespace-actor";
export { ReadyQueueActor } from "./actors/ready-queue-actor";
export { RunActor } from "./actors/run-actor";

export default engineWorker([exampleRuntime]);
