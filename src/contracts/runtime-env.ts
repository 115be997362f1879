// The bindings a push runtime Worker has by default: the engine, through a service binding to its
// `RuntimeEntrypoint` (typed by the narrow EngineRpc interface, never by an engine class). A runtime without
// the binding passes `engine` to createRuntime instead (e.g. `httpEngine` over HTTPS with the API key).
import type { EngineRpc } from "./engine-rpc";

export interface RuntimeEnv {
  /** `[[services]] binding = "ENGINE", service = "<engine Worker>", entrypoint = "RuntimeEntrypoint"`. */
  ENGINE?: EngineRpc;
  /** Outputs per page when a fan-out is reported (default REPORT_PAGE_OUTPUTS). */
  REPORT_PAGE_OUTPUTS?: string;
}
