// The test runtime Worker: the test nodes, on a queue of their own, reaching the engine through the ENGINE
// binding, exactly as a user's runtime Worker does (vitest.config.ts runs it beside the engine).
import { testRuntime } from "./test-nodes";

export default testRuntime.worker;
