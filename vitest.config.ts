import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { bundleRuntime, PACKAGE_ALIASES } from "./test/integration/runtime/bundle.mjs";
import { webPageAsText } from "./test/integration/web-page-text.mjs";

const COMPATIBILITY_DATE = "2026-10-01";
/** The Worker under test keeps the runner's name; runtimes bind its RuntimeEntrypoint by it. */
const ENGINE = "vitest-plugin-runner-integration";

/** A runtime Worker beside the engine, consuming its own queue and calling the engine through ENGINE. */
function runtimeWorker(name: string, entry: string, queue: string) {
  return {
    name,
    modules: true,
    scriptPath: bundleRuntime(name, entry),
    compatibilityDate: COMPATIBILITY_DATE,
    // Tiny fan-out pages, as the engine's, so that every run wider than 16 branches reports in pages.
    bindings: { REPORT_PAGE_OUTPUTS: "16" },
    queueConsumers: { [queue]: { maxBatchSize: 100, maxBatchTimeout: 0, maxRetries: 10 } },
    serviceBindings: { ENGINE: { name: ENGINE, entrypoint: "RuntimeEntrypoint" } },
  };
}

// Two rooms: the platform-free engine core runs in plain Node; everything that touches actors,
// queues or routes runs inside workerd through the Workers Vitest integration.
export default defineConfig({
  test: {
    projects: [
      {
        // "exoflare" (as the example runtime imports it) is the sources, never a built dist/.
        resolve: { alias: PACKAGE_ALIASES },
        test: { name: "unit", include: ["test/unit/**/*.test.{ts,mjs}"], environment: "node" },
      },
      {
        // The web page in headless Chromium and the CLI, against `wrangler dev` started by the test itself.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.mjs"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        resolve: { alias: PACKAGE_ALIASES },
        plugins: [
          webPageAsText(),
          cloudflareTest({
            // The engine exactly as deployed; beside it, as Workers of their own, the example runtime and
            // a runtime of test nodes, each on its own queue (test/integration/setup.ts registers them).
            main: "./src/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // Tiny fan-out pages and three branch shards from the third output on, so that every run wider
              // than 16 branches reports in several pages, and every fan-out of 3 or more spans actors.
              bindings: {
                STATE_MANAGER_SECRET: "test-secret-key",
                // Passed explicitly, as a deployment must: without it secrets are refused (503).
                SECRETS_ENCRYPTION_KEY: "dGVzdHMgb25seTogMzIgYnl0ZXMgb2Yga2V5IG1hdC4",
                EXOFLARE_TEST: "1",
                REPORT_PAGE_OUTPUTS: "16",
                BRANCH_SHARDS: "3",
                SHARD_FROM_OUTPUT: "2",
              },
              // The engine's queue bindings for the test runtimes: TEST_QUEUE is consumed by the test
              // runtime; GONE_QUEUE by nobody (a runtime that registered, then went away).
              queueProducers: {
                EXAMPLES_QUEUE: { queueName: "exoflare-examples" },
                TEST_QUEUE: { queueName: "exoflare-test" },
                GONE_QUEUE: { queueName: "exoflare-gone" },
              },
              // For the tests only: reach each runtime's `POST /register`.
              serviceBindings: {
                EXAMPLES_RUNTIME: "exoflare-examples",
                TEST_RUNTIME: "exoflare-test-runtime",
              },
              workers: [
                runtimeWorker("exoflare-examples", "examples/runtime/src/worker.ts", "exoflare-examples"),
                runtimeWorker("exoflare-test-runtime", "test/integration/runtime/worker.ts", "exoflare-test"),
              ],
            },
          }),
        ],
        // End-to-end runs go through the real queues and alarms; they wait on observable state, never sleep.
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          setupFiles: ["./test/integration/setup.ts"],
          testTimeout: 60_000,
        },
      },
    ],
  },
});
