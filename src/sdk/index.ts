// The public TypeScript SDK. Only re-exports: one line per module, so another module can be added beside these.

export type {
  EngineRpc,
  NodeRegistration,
  PerState,
  RegistrationAnswer,
  Report,
  ReportOutcome,
  RunCalls,
  RunRuntimeRpc,
  RuntimeEnv,
  RuntimeRegistration,
} from "../contracts";
export * from "./base-node";
export * from "./execute";
export * from "./http-engine";
export * from "./registration";
export * from "./runtime";
export * from "./signals";
