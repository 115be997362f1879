// Before each test file: the runtime Workers beside the engine register their nodes, as a deployed runtime
// does after `wrangler deploy` (`POST /register`, which leaves nodes another runtime took since).
import { env } from "cloudflare:workers";
import { beforeAll } from "vitest";

beforeAll(async () => {
  for (const runtime of [env.EXAMPLES_RUNTIME, env.TEST_RUNTIME]) {
    const res = await runtime.fetch("http://runtime/register", { method: "POST" });
    if (res.status !== 200)
      throw new Error(`registering a test runtime failed: ${res.status} ${await res.text()}`);
  }
});
