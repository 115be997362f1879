// The seed's example nodes as a push runtime of their own: this Worker consumes the `exoflare-examples`
// queue, which the engine knows as its EXAMPLES_QUEUE binding (see both wrangler.toml files).
import { createRuntime } from "exoflare";
import { EXAMPLES_NAMESPACE, exampleNodes } from "./nodes";

export const exampleRuntime = createRuntime({
  namespace: EXAMPLES_NAMESPACE,
  name: "example-runtime",
  queue: "EXAMPLES_QUEUE",
  nodes: exampleNodes(),
});
