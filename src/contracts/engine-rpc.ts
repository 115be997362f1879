// The one interface a runtime Worker talks to the engine through (design §6, "Runtime Workers"): the
// engine Worker's `RuntimeEntrypoint` implements it behind a service binding, and `httpEngine` implements
// it over HTTPS with the API key for a runtime that cannot have the binding (another account). Plain data
// only (structured clone over RPC, JSON over HTTP). No actor appears here: a runtime built in another
// project compiles against this module and the ones it imports, never against the engine's actors.
import type { Result } from "../engine/errors";
import type { NodeRegistration } from "./namespace";
import type { RunRuntimeRpc } from "./run";

/**
 * Every method of the run actor a runtime calls, addressed to the actor named `actor`: the `run` of a
 * dispatch message, a run key or a branch shard's `runKey:s`. Derived from RunRuntimeRpc, so a method added
 * there is a compile error in the entrypoint, the HTTP route and the HTTP client until each forwards it.
 */
export type RunCalls = {
  [M in keyof RunRuntimeRpc]: (
    actor: string,
    ...args: Parameters<RunRuntimeRpc[M]>
  ) => ReturnType<RunRuntimeRpc[M]>;
};

/** The names of RunCalls, for the code that forwards them generically (HTTP route and client). */
export const RUN_CALLS = [
  "pickup",
  "report",
  "reportAndTake",
  "inputsOf",
  "secretsOf",
] as const satisfies readonly (keyof RunRuntimeRpc)[];
// Compile-time: RUN_CALLS names every method of RunRuntimeRpc.
const _everyRunCall: Record<keyof RunRuntimeRpc, true> = {
  pickup: true,
  report: true,
  reportAndTake: true,
  inputsOf: true,
  secretsOf: true,
};
void _everyRunCall;
export type RunCallName = (typeof RUN_CALLS)[number];

/** What a push runtime registers: its nodes, and the queue the engine sends their ready states to. */
export interface RuntimeRegistration {
  namespace: string;
  runtimeName: string;
  /**
   * The name of the engine's queue producer binding for this runtime's queue (`[[queues.producers]]
   * binding` in the engine's wrangler.toml). The engine refuses a name it has no queue binding for.
   */
  queue: string;
  nodes: NodeRegistration[];
  /** Leave a node that another runtime registered to it (a runtime re-registering on its own schedule). */
  keepOthers?: boolean;
}

/** What the engine answers a registration: the nodes now served by this runtime (others kept theirs). */
export interface RegistrationAnswer {
  runtime_name: string;
  queue: string;
  registered: string[];
}

export type { Result };

/** The engine as a runtime sees it. */
export interface EngineRpc extends RunCalls {
  /**
   * Registers push nodes for `queue`. A refusal (a queue the engine has no binding for, a malformed
   * registration) is an answer, `{ok: false, error: {kind, detail}}`, not a thrown error: Workers RPC
   * would keep only an error's message. Over HTTP the refusal is the route's 4xx.
   */
  registerNodes(registration: RuntimeRegistration): Promise<Result<RegistrationAnswer>>;
  /**
   * A runtime served these nodes of `namespace` just now (it ran a batch of them): recorded so that a
   * run waiting on a node can tell a slow runtime from none. Runtimes throttle it.
   */
  nodesSeen(namespace: string, names: string[]): Promise<void>;
}

/** The names of every EngineRpc method. */
export const ENGINE_RPC_METHODS = [...RUN_CALLS, "registerNodes", "nodesSeen"] as const;
export type EngineRpcMethod = (typeof ENGINE_RPC_METHODS)[number];

/** An actor name a runtime may address: a run key (16 hex) or a branch shard (`runKey:s`). */
export const ACTOR_NAME = /^[0-9a-f]{16}(?::[1-9][0-9]{0,2})?$/;
