// The seed's example nodes as a push runtime, bundled in the engine's own Worker so that `npm start`
// can run the example graphs with nothing else deployed.
import { createRuntime } from "../sdk/runtime";
import { EXAMPLES_NAMESPACE, exampleNodes } from "./nodes";

export const exampleRuntime = createRuntime({
  namespace: EXAMPLES_NAMESPACE,
  name: "example-runtime",
  nodes: exampleNodes(),
});
