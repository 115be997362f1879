import { describe, expect, it, vi } from "vitest";
import { configOf, DEFAULT_CORS_ORIGINS, parseConfig } from "../../src/config";
import {
  DEFAULT_BRANCH_SHARDS,
  DEFAULT_DELIVERY_LEASE_MS,
  DEFAULT_PULL_LEASE_MS,
  DEFAULT_PULL_WAIT_MS,
  DEFAULT_PUSH_LEASE_MS,
  DEFAULT_SHARD_FROM_OUTPUT,
  DEFAULT_STATES_PER_MESSAGE,
  REPORT_PAGE_OUTPUTS,
} from "../../src/engine/limits";

describe("parseConfig", () => {
  it("gives the documented defaults for an empty environment, with the API closed", () => {
    expect(parseConfig({})).toEqual({
      apiKey: null,
      secretsEncryptionKey: undefined,
      corsOrigins: DEFAULT_CORS_ORIGINS,
      statesPerMessage: DEFAULT_STATES_PER_MESSAGE,
      pushLeaseMs: DEFAULT_PUSH_LEASE_MS,
      deliveryLeaseMs: DEFAULT_DELIVERY_LEASE_MS,
      pullLeaseMs: DEFAULT_PULL_LEASE_MS,
      pullWaitMs: DEFAULT_PULL_WAIT_MS,
      shards: { count: DEFAULT_BRANCH_SHARDS, from: DEFAULT_SHARD_FROM_OUTPUT },
      reportPageOutputs: REPORT_PAGE_OUTPUTS,
      eager: true,
    });
  });

  it("reads every variable, as wrangler passes them (strings) or as JSON vars (numbers)", () => {
    expect(
      parseConfig({
        STATE_MANAGER_SECRET: "k",
        SECRETS_ENCRYPTION_KEY: "  abc  ",
        CORS_ORIGINS: "https://a.example, ,https://b.example",
        DISPATCH_STATES_PER_MESSAGE: "16",
        PUSH_LEASE_MS: 60_000,
        DELIVERY_LEASE_MS: "7000",
        PULL_LEASE_MS: "1000",
        PULL_WAIT_MS: "0",
        BRANCH_SHARDS: "3",
        SHARD_FROM_OUTPUT: 2,
        REPORT_PAGE_OUTPUTS: "16",
        EAGER_EXECUTION: " Off ",
      }),
    ).toEqual({
      apiKey: "k",
      secretsEncryptionKey: "abc",
      corsOrigins: ["https://a.example", "https://b.example"],
      statesPerMessage: 16,
      pushLeaseMs: 60_000,
      deliveryLeaseMs: 7000,
      pullLeaseMs: 1000,
      pullWaitMs: 0,
      shards: { count: 3, from: 2 },
      reportPageOutputs: 16,
      eager: false,
    });
  });

  it("treats an empty API key as unset, and a blank secrets key or origin list as unset", () => {
    const config = parseConfig({ STATE_MANAGER_SECRET: "", SECRETS_ENCRYPTION_KEY: "  ", CORS_ORIGINS: " " });
    expect(config.apiKey).toBeNull();
    expect(config.secretsEncryptionKey).toBeUndefined();
    expect(config.corsOrigins).toEqual(DEFAULT_CORS_ORIGINS);
  });

  it("falls back to the default, with a warning naming the variable, for a malformed number", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const config = parseConfig({
        DISPATCH_STATES_PER_MESSAGE: "0",
        PUSH_LEASE_MS: "-5",
        PULL_LEASE_MS: "soon",
        BRANCH_SHARDS: "1.5",
        DELIVERY_LEASE_MS: "1000",
        PULL_WAIT_MS: "20001",
      });
      expect(config.statesPerMessage).toBe(DEFAULT_STATES_PER_MESSAGE);
      expect(config.pushLeaseMs).toBe(DEFAULT_PUSH_LEASE_MS);
      expect(config.pullLeaseMs).toBe(DEFAULT_PULL_LEASE_MS);
      expect(config.shards.count).toBe(DEFAULT_BRANCH_SHARDS);
      // Shorter than consumers' heartbeats could keep up with.
      expect(config.deliveryLeaseMs).toBe(DEFAULT_DELIVERY_LEASE_MS);
      // Longer than a client may ask for.
      expect(config.pullWaitMs).toBe(DEFAULT_PULL_WAIT_MS);
      expect(warn).toHaveBeenCalledTimes(6);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining("PULL_LEASE_MS"));
    } finally {
      warn.mockRestore();
    }
  });
});

describe("configOf", () => {
  it("parses an environment once and answers the same object after", () => {
    const env = { STATE_MANAGER_SECRET: "k" };
    expect(configOf(env)).toBe(configOf(env));
    expect(configOf({ STATE_MANAGER_SECRET: "other" }).apiKey).toBe("other");
  });
});
