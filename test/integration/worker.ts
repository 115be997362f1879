// The Worker under test: the engine exactly as deployed, plus a push runtime of test nodes on the same
// dispatch queue (so control features can be exercised through the real queue).
import { exampleRuntime } from "../../examples/runtime/src/runtime";
import { engineWorker } from "../../src/worker";
import { testRuntime } from "./helpers/test-nodes";

export { DirectoryActor, NamespaceActor, ReadyQueueActor, RunActor } from "../../src/index";

export default engineWorker([exampleRuntime, testRuntime]);
