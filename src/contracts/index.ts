// The contracts module: RPC payloads and interfaces shared by the engine's actors, the SDK and the
// clients. It imports no actor, so runtimes and clients depend on it and never on the actors. Only
// re-exports.
export * from "./dispatch";
export * from "./engine-rpc";
export * from "./namespace";
export * from "./run";
export * from "./run-view";
export * from "./runtime-env";
