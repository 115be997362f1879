// The example runtime Worker (examples/runtime/) beside a local engine: its wrangler.toml, for `wrangler dev
// -c <engine> -c <runtime>` (one workerd process runs both), and its registration. Deployed, the runtime
// registers itself (`POST /register`, its cron trigger); locally only the engine has a port, so the scripts
// that start one register the runtime's nodes over the engine's HTTPS interface, exactly as the Worker
// would over its binding.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadTs } from "./load-ts.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The example runtime Worker's wrangler.toml. */
export const EXAMPLE_RUNTIME_CONFIG = join(root, "examples", "runtime", "wrangler.toml");

/**
 * Registers the example runtime's nodes with the engine at `uri` (leaving any node another runtime took
 * since, as the Worker's own re-registration does). Throws the engine's refusal as it is.
 */
export async function registerExampleRuntime({ uri, key, fetch: fetchFn }) {
  const { exampleRuntime, httpEngine } = await loadTs([
    "examples/runtime/src/runtime.ts",
    "src/sdk/http-engine.ts",
  ]);
  const engine = httpEngine({ url: uri, apiKey: key, ...(fetchFn ? { fetch: fetchFn } : {}) });
  const answer = await engine.registerNodes(exampleRuntime.registration({ keepOthers: true }));
  if (!answer.ok) {
    const detail =
      typeof answer.error.detail === "string" ? answer.error.detail : JSON.stringify(answer.error.detail);
    throw new Error(`the engine refused the example runtime's registration: ${detail}`);
  }
  return answer.value;
}
