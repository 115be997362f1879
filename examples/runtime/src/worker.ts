// The example runtime Worker: `queue()` runs the seed's nodes for the states the engine sends to its queue
// and reports through the ENGINE service binding; `POST /register` and the cron trigger register its nodes.
import { exampleRuntime } from "./runtime";

export default exampleRuntime.worker;
