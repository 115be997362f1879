import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Two rooms: the platform-free engine core runs in plain Node; everything that touches actors,
// queues or routes runs inside workerd through the Workers Vitest integration.
export default defineConfig({
  test: {
    projects: [
      {
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
        plugins: [
          cloudflareTest({
            // The deployed Worker plus a runtime of test nodes on the same queue (see the file).
            main: "./test/integration/worker.ts",
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
            },
          }),
        ],
        // End-to-end runs go through the real queue and alarms; they wait on observable state, never sleep.
        test: { name: "integration", include: ["test/integration/**/*.test.ts"], testTimeout: 60_000 },
      },
    ],
  },
});
