import { describe, expect, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import {
  DEFAULT_RETRY_POLICY,
  type NodeTemplate,
  type RetryPolicy,
  type StoreConfig,
} from "../../src/engine/model";
import {
  type TriggerBody,
  triggerBodySchema,
  type UpsertGraphBody,
  upsertGraphBodySchema,
} from "../../src/engine/template/request-schema";

const node = (over: Record<string, unknown> = {}) => ({
  node_name: "n1",
  namespace: "ns",
  identifier: "n1",
  inputs: {},
  ...over,
});

const issuesOf = (body: unknown) => {
  const result = upsertGraphBodySchema.safeParse(body);
  if (result.success) throw new Error("expected the body to be rejected");
  return result.error.issues;
};

/** The single custom issue at `path`, with its message. */
const customIssue = (body: unknown, path: (string | number)[]) => {
  const matching = issuesOf(body).filter((i) => JSON.stringify(i.path) === JSON.stringify(path));
  expect(matching).toHaveLength(1);
  expect(matching[0]?.code).toBe("custom");
  return matching[0]?.message;
};

const withNode = (over: Record<string, unknown>) => ({ secrets: {}, nodes: [node(over)] });

describe("upsertGraphBodySchema", () => {
  it("fills every default and drops unknown fields", () => {
    const body = upsertGraphBodySchema.parse({ secrets: {}, nodes: [node()], extra: 1 });
    expect(body).toEqual({
      secrets: {},
      nodes: [
        { node_name: "n1", namespace: "ns", identifier: "n1", inputs: {}, next_nodes: null, unites: null },
      ],
      retry_policy: DEFAULT_RETRY_POLICY,
      store_config: { required_keys: [], default_values: {} },
      triggers: [],
    });
    expect("extra" in body).toBe(false);
  });

  it("infers the shared model's types", () => {
    expectTypeOf<UpsertGraphBody["nodes"][number]>().toEqualTypeOf<NodeTemplate>();
    expectTypeOf<UpsertGraphBody["retry_policy"]>().toEqualTypeOf<RetryPolicy>();
    expectTypeOf<UpsertGraphBody["store_config"]>().toEqualTypeOf<StoreConfig>();
    expectTypeOf<TriggerBody>().toEqualTypeOf<{
      store: Record<string, string>;
      inputs: Record<string, string>;
      start_delay: number;
    }>();
    expectTypeOf<z.input<typeof upsertGraphBodySchema>>().not.toBeAny();
  });

  it("requires secrets and nodes", () => {
    const paths = issuesOf({}).map((i) => i.path.join("."));
    expect(paths).toEqual(expect.arrayContaining(["secrets", "nodes"]));
  });

  it("stores node fields trimmed", () => {
    const body = upsertGraphBodySchema.parse(
      withNode({ node_name: " a ", identifier: " b ", next_nodes: [" c "], unites: { identifier: " d " } }),
    );
    expect(body.nodes[0]).toMatchObject({
      node_name: "a",
      identifier: "b",
      next_nodes: ["c"],
      unites: { identifier: "d", strategy: "ALL_SUCCESS" },
    });
  });

  it("rejects an empty node name", () => {
    expect(customIssue(withNode({ node_name: "  " }), ["nodes", 0, "node_name"])).toBe(
      "Node name cannot be empty",
    );
  });

  it("rejects an empty identifier", () => {
    expect(customIssue(withNode({ identifier: " " }), ["nodes", 0, "identifier"])).toBe(
      "Node identifier cannot be empty",
    );
  });

  it("rejects the reserved identifier store, even padded", () => {
    expect(customIssue(withNode({ identifier: " store " }), ["nodes", 0, "identifier"])).toBe(
      "Node identifier cannot be reserved word 'store'",
    );
  });

  it("reports every bad next node in one message, joined by newlines", () => {
    expect(customIssue(withNode({ next_nodes: ["", "b", " b", "c"] }), ["nodes", 0, "next_nodes"])).toBe(
      "Next node identifier cannot be empty\nNext node identifier b is not unique",
    );
  });

  it("rejects an empty unites identifier", () => {
    expect(customIssue(withNode({ unites: { identifier: " " } }), ["nodes", 0, "unites"])).toBe(
      "Unites identifier cannot be empty",
    );
  });

  it("rejects an unknown unites strategy", () => {
    const issues = issuesOf(withNode({ unites: { identifier: "x", strategy: "ANY" } }));
    expect(issues.map((i) => i.path.join("."))).toEqual(["nodes.0.unites.strategy"]);
  });

  describe("run control fields", () => {
    const paths = (over: Record<string, unknown>) => issuesOf(withNode(over)).map((i) => i.path.join("."));

    it("keeps max_concurrency, timeout_seconds and tolerances when set, and adds nothing when absent", () => {
      const [set] = upsertGraphBodySchema.parse(
        withNode({
          max_concurrency: 3,
          timeout_seconds: "30",
          unites: { identifier: "x", tolerated_failure_count: 2, tolerated_failure_percentage: 12.5 },
        }),
      ).nodes;
      expect(set).toMatchObject({
        max_concurrency: 3,
        timeout_seconds: 30,
        unites: {
          identifier: "x",
          strategy: "ALL_SUCCESS",
          tolerated_failure_count: 2,
          tolerated_failure_percentage: 12.5,
        },
      });
      const [plain] = upsertGraphBodySchema.parse(
        withNode({ max_concurrency: null, unites: { identifier: "x" } }),
      ).nodes;
      expect(Object.keys(plain ?? {})).not.toContain("max_concurrency");
      expect(Object.keys(plain ?? {})).not.toContain("timeout_seconds");
      expect(plain?.unites).toEqual({ identifier: "x", strategy: "ALL_SUCCESS" });
    });

    it("rejects a max_concurrency or timeout_seconds that is not a positive integer", () => {
      for (const bad of [0, -1, 1.5, "many", true]) {
        expect(paths({ max_concurrency: bad })).toEqual(["nodes.0.max_concurrency"]);
        expect(paths({ timeout_seconds: bad })).toEqual(["nodes.0.timeout_seconds"]);
      }
      expect(paths({ timeout_seconds: 8 * 24 * 3600 })).toEqual(["nodes.0.timeout_seconds"]);
    });

    it("rejects a negative or fractional tolerated count and a percentage outside 0-100", () => {
      const unites = (over: Record<string, unknown>) => ({ unites: { identifier: "x", ...over } });
      expect(paths(unites({ tolerated_failure_count: -1 }))).toEqual([
        "nodes.0.unites.tolerated_failure_count",
      ]);
      expect(paths(unites({ tolerated_failure_count: 0.5 }))).toEqual([
        "nodes.0.unites.tolerated_failure_count",
      ]);
      expect(paths(unites({ tolerated_failure_percentage: 101 }))).toEqual([
        "nodes.0.unites.tolerated_failure_percentage",
      ]);
      expect(paths(unites({ tolerated_failure_percentage: -0.1 }))).toEqual([
        "nodes.0.unites.tolerated_failure_percentage",
      ]);
      expect(
        upsertGraphBodySchema.parse(
          withNode(unites({ tolerated_failure_count: 0, tolerated_failure_percentage: 100 })),
        ).nodes[0]?.unites,
      ).toMatchObject({ tolerated_failure_count: 0, tolerated_failure_percentage: 100 });
    });

    it("rejects a tolerance on an ALL_DONE unite", () => {
      expect(
        customIssue(
          withNode({ unites: { identifier: "x", strategy: "ALL_DONE", tolerated_failure_count: 1 } }),
          ["nodes", 0, "unites"],
        ),
      ).toMatch(/apply only to the ALL_SUCCESS strategy/);
    });
  });

  it("requires inputs to be an object but accepts any value inside", () => {
    expect(issuesOf(withNode({ inputs: [] })).map((i) => i.path.join("."))).toEqual(["nodes.0.inputs"]);
    expect(upsertGraphBodySchema.parse(withNode({ inputs: { a: 1 } })).nodes[0]?.inputs).toEqual({ a: 1 });
  });

  describe("store_config", () => {
    const body = (store_config: unknown) => ({ secrets: {}, nodes: [node()], store_config });

    it("trims required keys and default value keys", () => {
      const parsed = upsertGraphBodySchema.parse(
        body({ required_keys: [" a "], default_values: { " b ": "1" } }),
      );
      expect(parsed.store_config).toEqual({ required_keys: ["a"], default_values: { b: "1" } });
    });

    it("reports every bad required key with Exosphere's messages", () => {
      expect(
        customIssue(body({ required_keys: [" ", "a.b", "k", " k "] }), ["store_config", "required_keys"]),
      ).toBe(
        "Key cannot be empty or contain only whitespace\nKey 'a.b' cannot contain '.' character\nKey 'k' is duplicated",
      );
    });

    it("reports bad default value keys with Exosphere's messages", () => {
      expect(
        customIssue(body({ default_values: { "": "1", "x.y": "2", k: "3", " k": "4" } }), [
          "store_config",
          "default_values",
        ]),
      ).toBe(
        "Key cannot be empty or contain only whitespace\nKey 'x.y' cannot contain '.' character\nKey 'k' is duplicated",
      );
    });

    it("rejects non-string default values", () => {
      expect(issuesOf(body({ default_values: { a: 1 } })).map((i) => i.path.join("."))).toEqual([
        "store_config.default_values.a",
      ]);
    });
  });

  describe("retry_policy", () => {
    const body = (retry_policy: unknown) => ({ secrets: {}, nodes: [node()], retry_policy });

    it("defaults each missing field", () => {
      expect(upsertGraphBodySchema.parse(body({ max_retries: 5 })).retry_policy).toEqual({
        ...DEFAULT_RETRY_POLICY,
        max_retries: 5,
      });
    });

    it("accepts Pydantic's lax integer forms", () => {
      const parsed = upsertGraphBodySchema.parse(
        body({
          backoff_factor: 5000.0,
          max_retries: "7",
          exponent: " 3 ",
          max_delay: "60000",
          strategy: "LINEAR",
        }),
      );
      expect(parsed.retry_policy).toEqual({
        max_retries: 7,
        strategy: "LINEAR",
        backoff_factor: 5000,
        exponent: 3,
        max_delay: 60000,
      });
    });

    it.each([
      [{ backoff_factor: 5000.5 }, "retry_policy.backoff_factor"],
      [{ backoff_factor: "5000.5" }, "retry_policy.backoff_factor"],
      [{ max_retries: -1 }, "retry_policy.max_retries"],
      [{ backoff_factor: 0 }, "retry_policy.backoff_factor"],
      [{ exponent: 0 }, "retry_policy.exponent"],
      [{ max_delay: 0 }, "retry_policy.max_delay"],
      [{ strategy: "RANDOM" }, "retry_policy.strategy"],
      [{ max_retries: true }, "retry_policy.max_retries"],
    ])("rejects %j", (policy, path) => {
      expect(issuesOf(body(policy)).map((i) => i.path.join("."))).toEqual([path]);
    });

    it("accepts zero retries and a null max delay", () => {
      const parsed = upsertGraphBodySchema.parse(body({ max_retries: 0, max_delay: null }));
      expect(parsed.retry_policy.max_retries).toBe(0);
      expect(parsed.retry_policy.max_delay).toBeNull();
    });
  });

  describe("triggers", () => {
    const body = (triggers: unknown) => ({ secrets: {}, nodes: [node()], triggers });

    it("accepts a valid CRON trigger", () => {
      expect(
        upsertGraphBodySchema.parse(body([{ type: "CRON", value: { expression: "*/5 * * * *" } }])).triggers,
      ).toEqual([{ type: "CRON", value: { expression: "*/5 * * * *" } }]);
    });

    it("rejects an invalid cron expression, saying what is wrong with it", () => {
      const at = ["triggers", 0, "value", "expression"];
      const cron = (expression: string) => body([{ type: "CRON", value: { expression } }]);
      expect(customIssue(cron("not a cron"), at)).toBe(
        "Invalid cron expression 'not a cron': expected 5 fields (minute hour day month weekday) or an alias",
      );
      // croner's own message for a field out of range
      expect(customIssue(cron("61 * * * *"), at)).toBe(
        "Invalid cron expression '61 * * * *': CronPattern: Invalid value for minute: 61",
      );
      expect(customIssue(cron("0 0 31 4 *"), at)).toMatch(
        /^Invalid cron expression '0 0 31 4 \*': no occurrence after \d{4}-/,
      );
    });

    it("rejects another trigger type and a missing expression", () => {
      expect(issuesOf(body([{ type: "WEBHOOK", value: { expression: "* * * * *" } }]))[0]?.path).toEqual([
        "triggers",
        0,
        "type",
      ]);
      expect(issuesOf(body([{ type: "CRON", value: {} }]))[0]?.path).toEqual([
        "triggers",
        0,
        "value",
        "expression",
      ]);
    });
  });
});

describe("triggerBodySchema", () => {
  it("defaults store, inputs and start_delay", () => {
    expect(triggerBodySchema.parse({})).toEqual({ store: {}, inputs: {}, start_delay: 0 });
  });

  it("accepts a lax integer start delay", () => {
    expect(triggerBodySchema.parse({ start_delay: "250" }).start_delay).toBe(250);
  });

  it.each([
    [{ start_delay: -1 }, "start_delay"],
    [{ start_delay: 1.5 }, "start_delay"],
    [{ inputs: { a: 1 } }, "inputs.a"],
    [{ store: { a: null } }, "store.a"],
  ])("rejects %j", (body, path) => {
    const result = triggerBodySchema.safeParse(body);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join("."))).toEqual([path]);
  });
});
