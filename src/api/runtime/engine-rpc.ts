// The engine's side of the runtime interface (contracts/engine-rpc.ts), over the engine Worker's bindings:
// one implementation that both doors use, the RuntimeEntrypoint (service binding) and the
// `POST /v0/runtime/{method}` routes (HTTPS with the API key). Each run call is forwarded to the run or
// branch-shard actor it names, unchanged; a registration is checked against the engine's queue bindings.
import type {
  EngineRpc,
  RegistrationAnswer,
  RunCalls,
  RunRuntimeRpc,
  RuntimeRegistration,
} from "../../contracts";
import { ACTOR_NAME } from "../../contracts/engine-rpc";
import { assertQueueBinding } from "../../dispatch/queues";
import { type Result, toResult, ValidationError } from "../../engine/errors";
import { runtimeCallBodySchemas, runtimeRegistrationSchema } from "../schemas/request-bodies";

/** The run or branch-shard actor a runtime names; refuses a name that cannot be one (no actor is woken). */
function runActor(env: Env, actor: string): RunRuntimeRpc {
  if (typeof actor !== "string" || !ACTOR_NAME.test(actor)) {
    throw new ValidationError(`'${String(actor).slice(0, 64)}' names no run actor`);
  }
  return env.RUN.getByName(actor);
}

/** Forwards each run call to its actor. One line per RunRuntimeRpc method (the type lists them all). */
export function runCalls(env: Env): RunCalls {
  return {
    pickup: (actor, ...args) => runActor(env, actor).pickup(...args),
    report: (actor, ...args) => runActor(env, actor).report(...args),
    reportAndTake: (actor, ...args) => runActor(env, actor).reportAndTake(...args),
    inputsOf: (actor, ...args) => runActor(env, actor).inputsOf(...args),
    secretsOf: (actor, ...args) => runActor(env, actor).secretsOf(...args),
  };
}

/**
 * Registers a push runtime's nodes for its queue: refused (ValidationError) when the engine has no queue
 * producer binding of that name, so a node can never be registered for a queue nobody sends to.
 */
export function registerRuntime(env: Env, input: RuntimeRegistration): Promise<Result<RegistrationAnswer>> {
  return toResult(() => register(env, input));
}

async function register(env: Env, input: RuntimeRegistration): Promise<RegistrationAnswer> {
  const parsed = runtimeRegistrationSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new ValidationError(`Invalid registration: ${problems.join("; ")}`);
  }
  const { namespace, runtimeName, queue, nodes, keepOthers } = parsed.data;
  assertQueueBinding(env, queue);
  await env.NAMESPACE.getByName(namespace).registerNodes(
    namespace,
    runtimeName,
    nodes.map((n) => ({ ...n, transport: "queue" as const, queue })),
    { keepOthers: keepOthers ?? false },
  );
  return { runtime_name: runtimeName, queue, registered: nodes.map((n) => n.name) };
}

/** Records that a runtime served these nodes (bounded like a poll: names of registered nodes only). */
export async function nodesSeen(env: Env, namespace: string, names: string[]): Promise<void> {
  const parsed = runtimeCallBodySchemas.nodesSeen.shape.args.safeParse([namespace, names]);
  if (!parsed.success) throw new ValidationError("nodesSeen takes a namespace and a list of node names");
  await env.NAMESPACE.getByName(namespace).nodesSeen(names);
}

export function engineRpc(env: Env): EngineRpc {
  return {
    ...runCalls(env),
    registerNodes: (registration) => registerRuntime(env, registration),
    nodesSeen: (namespace, names) => nodesSeen(env, namespace, names),
  };
}
