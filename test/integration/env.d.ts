// Bindings the integration tests add to the engine (vitest.config.ts), beside those of wrangler.toml.
declare namespace Cloudflare {
  interface Env {
    /** The example runtime Worker (its `POST /register`). */
    EXAMPLES_RUNTIME: Fetcher;
    /** The test runtime Worker (its `POST /register`). */
    TEST_RUNTIME: Fetcher;
    /** The test runtime's queue. */
    TEST_QUEUE: Queue;
    /** A queue nobody consumes: a runtime that registered, then went away. */
    GONE_QUEUE: Queue;
  }
}
