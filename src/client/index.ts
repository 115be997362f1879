// HTTP clients of the engine, for code outside the Worker. Only re-exports.

export type { PulledState, RunNodesView } from "../contracts";
export * from "./http";
export * from "./pull-runtime";
export * from "./sse";
export * from "./state-manager";
