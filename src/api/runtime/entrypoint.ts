// The engine Worker's RPC entrypoint for runtime Workers (design §6): a runtime binds it with
//   [[services]] binding = "ENGINE", service = "<engine Worker>", entrypoint = "RuntimeEntrypoint"
// A named entrypoint has no public URL: only a Worker with that service binding (same account) reaches it,
// which is why it asks for no key. Runtimes elsewhere use the same interface over HTTPS with the API key
// (`POST /v0/runtime/{method}`, routes/runtime.ts). It only forwards: see engine-rpc.ts.
import { WorkerEntrypoint } from "cloudflare:workers";
import type { EngineRpc, RunRuntimeRpc, RuntimeRegistration } from "../../contracts";
import { nodesSeen, registerRuntime, runCalls } from "./engine-rpc";

export class RuntimeEntrypoint extends WorkerEntrypoint<Env> implements EngineRpc {
  // One small method per RunRuntimeRpc method; `implements EngineRpc` fails to compile until a new one
  // is added here.
  pickup(actor: string, ...args: Parameters<RunRuntimeRpc["pickup"]>) {
    return runCalls(this.env).pickup(actor, ...args);
  }

  report(actor: string, ...args: Parameters<RunRuntimeRpc["report"]>) {
    return runCalls(this.env).report(actor, ...args);
  }

  reportAndTake(actor: string, ...args: Parameters<RunRuntimeRpc["reportAndTake"]>) {
    return runCalls(this.env).reportAndTake(actor, ...args);
  }

  inputsOf(actor: string, ...args: Parameters<RunRuntimeRpc["inputsOf"]>) {
    return runCalls(this.env).inputsOf(actor, ...args);
  }

  secretsOf(actor: string, ...args: Parameters<RunRuntimeRpc["secretsOf"]>) {
    return runCalls(this.env).secretsOf(actor, ...args);
  }

  registerNodes(registration: RuntimeRegistration) {
    return registerRuntime(this.env, registration);
  }

  nodesSeen(namespace: string, names: string[]) {
    return nodesSeen(this.env, namespace, names);
  }
}
