// The bindings a push runtime Worker needs to talk to the engine: the run actors (report, inputs,
// secrets) and the namespace actors (registration), typed by the narrow RPC interfaces above rather than
// by the actor classes, so a runtime depends on this contract and never on the engine's actors.
import type { NodeRegistryRpc } from "./namespace";
import type { RunRuntimeRpc } from "./run";

/** Same script, or `script_name` bindings to the engine's `RunActor` and `NamespaceActor`. */
export interface RuntimeEnv {
  RUN: { getByName(name: string): RunRuntimeRpc };
  NAMESPACE: { getByName(name: string): NodeRegistryRpc };
  /** Outputs per page when a fan-out is reported (default REPORT_PAGE_OUTPUTS). */
  REPORT_PAGE_OUTPUTS?: string;
}
