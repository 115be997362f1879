// Graph templates: upsert with synchronous verification, GET, list, secrets at rest (spec §2.5–§2.7).
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_NODES_PER_GRAPH } from "../../src/engine/limits";
import { decryptSecret, secretsKeyFrom } from "../../src/engine/secrets";
import { call, freshNamespace, stringProps } from "./helpers/http";

async function registerNodes(ns: string, secrets: string[] = ["api_key"]) {
  const res = await call("PUT", `/v0/namespace/${ns}/nodes/`, {
    runtime_name: "rt",
    nodes: [
      { name: "Split", inputs_schema: stringProps("text"), outputs_schema: stringProps("chunk"), secrets },
      { name: "Count", inputs_schema: stringProps("chunk"), outputs_schema: stringProps("n"), secrets: [] },
    ],
  });
  expect(res.status).toBe(200);
}

const graphBody = (ns: string, secretValue = "sk-very-secret-value") => ({
  secrets: { api_key: secretValue },
  nodes: [
    {
      node_name: "Split",
      namespace: ns,
      identifier: "split",
      inputs: { text: "${{ store.text }}" },
      next_nodes: ["count"],
    },
    {
      node_name: "Count",
      namespace: ns,
      identifier: "count",
      inputs: { chunk: "${{ split.outputs.chunk }}" },
    },
  ],
  retry_policy: { max_retries: 5, strategy: "LINEAR", backoff_factor: 100, exponent: 3, max_delay: 1000 },
  store_config: { required_keys: ["text"], default_values: { lang: "en" } },
  triggers: [{ type: "CRON", value: { expression: "*/5 * * * *" } }],
});

interface TemplateView {
  nodes: Array<Record<string, unknown>>;
  secrets: Record<string, unknown>;
  retry_policy: Record<string, unknown>;
  store_config: Record<string, unknown>;
  triggers: unknown[];
  created_at: string;
  updated_at: string;
  validation_status: string;
  validation_errors: string[];
}

describe("PUT /v0/namespace/{ns}/graph/{g}", () => {
  it("stores a template, verifies it before answering 201, and GET returns what was stored", async () => {
    const ns = freshNamespace();
    await registerNodes(ns);
    const res = await call("PUT", `/v0/namespace/${ns}/graph/g`, graphBody(ns));
    expect(res.status).toBe(201);
    const text = await res.text();
    expect(text).not.toContain("sk-very-secret-value");
    const created = JSON.parse(text) as TemplateView;
    expect(created).toMatchObject({
      secrets: { api_key: true },
      retry_policy: graphBody(ns).retry_policy,
      store_config: graphBody(ns).store_config,
      triggers: graphBody(ns).triggers,
      validation_status: "VALID",
      validation_errors: [],
    });
    expect(created.nodes[1]).toEqual({ ...graphBody(ns).nodes[1], next_nodes: null, unites: null });
    expect(created.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/);

    const got = await call("GET", `/v0/namespace/${ns}/graph/g`);
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual(created);
  });

  it("applies Exosphere's defaults to omitted optional fields", async () => {
    const ns = freshNamespace();
    await registerNodes(ns, []);
    const { retry_policy: _r, store_config: _s, triggers: _t, ...minimal } = graphBody(ns);
    minimal.nodes[0] = { ...graphBody(ns).nodes[0], inputs: { text: "hello" } } as (typeof minimal.nodes)[0];
    const res = await call("PUT", `/v0/namespace/${ns}/graph/g`, { ...minimal, secrets: {} });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      secrets: {},
      retry_policy: {
        max_retries: 3,
        strategy: "EXPONENTIAL",
        backoff_factor: 2000,
        exponent: 2,
        max_delay: null,
      },
      store_config: { required_keys: [], default_values: {} },
      triggers: [],
      validation_status: "VALID",
    });
  });

  it("marks a template INVALID with Exosphere's messages when the registry does not back it", async () => {
    const ns = freshNamespace();
    const res = await call("PUT", `/v0/namespace/${ns}/graph/g`, graphBody(ns));
    expect(res.status).toBe(201);
    const view = (await res.json()) as TemplateView;
    expect(view.validation_status).toBe("INVALID");
    expect(view.validation_errors).toContain(`Node Split in namespace ${ns} does not exist.`);

    await registerNodes(ns, ["api_key", "other_secret"]);
    const again = (await (
      await call("PUT", `/v0/namespace/${ns}/graph/g`, graphBody(ns))
    ).json()) as TemplateView;
    expect(again.validation_status).toBe("INVALID");
    expect(again.validation_errors).toEqual([
      "Secret other_secret is required but not present in the graph template",
    ]);
  });

  it("verifies nodes of other namespaces against their own registry", async () => {
    const [home, other] = [freshNamespace(), freshNamespace()];
    await registerNodes(other);
    const body = graphBody(other);
    const res = await call("PUT", `/v0/namespace/${home}/graph/g`, body);
    expect(((await res.json()) as TemplateView).validation_status).toBe("VALID");
    const missing = { ...body, nodes: body.nodes.map((n) => ({ ...n, namespace: freshNamespace() })) };
    const invalid = (await (
      await call("PUT", `/v0/namespace/${home}/graph/g2`, missing)
    ).json()) as TemplateView;
    expect(invalid.validation_status).toBe("INVALID");
  });

  it("keeps created_at and replaces secrets and nodes on update", async () => {
    const ns = freshNamespace();
    await registerNodes(ns, []);
    const first = (await (
      await call("PUT", `/v0/namespace/${ns}/graph/g`, graphBody(ns))
    ).json()) as TemplateView;
    const body = { ...graphBody(ns), secrets: { other: "x" }, nodes: graphBody(ns).nodes.slice(0, 1) };
    body.nodes[0] = { ...body.nodes[0], next_nodes: [] } as (typeof body.nodes)[0];
    const second = (await (await call("PUT", `/v0/namespace/${ns}/graph/g`, body)).json()) as TemplateView;
    expect(second.created_at).toBe(first.created_at);
    expect(second.secrets).toEqual({ other: true });
    expect(second.nodes).toHaveLength(1);
  });

  it("refuses a structurally broken template with 400 and keeps the previous version", async () => {
    const ns = freshNamespace();
    await registerNodes(ns);
    await call("PUT", `/v0/namespace/${ns}/graph/g`, graphBody(ns));
    const broken = graphBody(ns);
    broken.nodes[1] = { ...broken.nodes[1], next_nodes: ["split"] } as (typeof broken.nodes)[1];
    const res = await call("PUT", `/v0/namespace/${ns}/graph/g`, { ...broken, secrets: { replaced: "y" } });
    expect(res.status).toBe(400);
    const { detail } = (await res.json()) as { detail: string };
    expect(detail.startsWith("Error validating graph template: ")).toBe(true);
    expect(detail).toContain("There should be exactly one root node in the graph but found 0 nodes");

    const kept = (await (await call("GET", `/v0/namespace/${ns}/graph/g`)).json()) as TemplateView;
    expect(kept.secrets).toEqual({ api_key: true });
    expect(kept.nodes[1]?.next_nodes).toBeNull();
  });

  it("refuses a whitespace-only graph name with rule 1's message", async () => {
    const res = await call("PUT", `/v0/namespace/${freshNamespace()}/graph/%20`, graphBody("x"));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ detail: "Error validating graph template: Name cannot be empty" });
  });

  it("refuses a body that fails tier 1 with 422 and stores nothing", async () => {
    const ns = freshNamespace();
    const { secrets: _omitted, ...noSecrets } = graphBody(ns);
    const missing = await call("PUT", `/v0/namespace/${ns}/graph/g`, noSecrets);
    expect(missing.status).toBe(422);
    expect(((await missing.json()) as { detail: unknown[] }).detail).toContainEqual(
      expect.objectContaining({ type: "missing", loc: ["body", "secrets"], msg: "Field required" }),
    );
    const badName = graphBody(ns);
    badName.nodes[0] = { ...badName.nodes[0], identifier: "store" } as (typeof badName.nodes)[0];
    const reserved = await call("PUT", `/v0/namespace/${ns}/graph/g`, badName);
    expect(reserved.status).toBe(422);
    expect(((await reserved.json()) as { detail: unknown[] }).detail).toContainEqual(
      expect.objectContaining({
        type: "value_error",
        loc: ["body", "nodes", 0, "identifier"],
        msg: "Value error, Node identifier cannot be reserved word 'store'",
      }),
    );
    expect((await call("GET", `/v0/namespace/${ns}/graph/g`)).status).toBe(404);
  });

  it("encrypts secrets at rest with the configured key", async () => {
    const ns = freshNamespace();
    await registerNodes(ns);
    await call("PUT", `/v0/namespace/${ns}/graph/g`, graphBody(ns));
    const stored = await runInDurableObject(env.NAMESPACE.getByName(ns), async (_instance, state) => {
      const row = state.storage.sql.exec<{ secrets: string }>("SELECT secrets FROM graph_templates").one();
      return JSON.parse(row.secrets) as Record<string, string>;
    });
    expect(stored.api_key).not.toContain("sk-very-secret-value");
    const key = await secretsKeyFrom((env as { SECRETS_ENCRYPTION_KEY?: string }).SECRETS_ENCRYPTION_KEY);
    expect(await decryptSecret(key, stored.api_key ?? "")).toBe("sk-very-secret-value");
  });
});

describe("validation messages", () => {
  it("says what is wrong with a cron expression, in msg and in ctx.error", async () => {
    const ns = freshNamespace();
    const body = { ...graphBody(ns), triggers: [{ type: "CRON", value: { expression: "61 * * * *" } }] };
    const res = await call("PUT", `/v0/namespace/${ns}/graph/g`, body);
    expect(res.status).toBe(422);
    const reason = "Invalid cron expression '61 * * * *': CronPattern: Invalid value for minute: 61";
    expect(((await res.json()) as { detail: unknown[] }).detail).toEqual([
      {
        type: "value_error",
        loc: ["body", "triggers", 0, "value", "expression"],
        msg: `Value error, ${reason}`,
        input: "61 * * * *",
        ctx: { error: reason },
      },
    ]);
  });

  it("says that a graph without a root has a cycle, and names its nodes", async () => {
    const ns = freshNamespace();
    await registerNodes(ns);
    const body = graphBody(ns);
    body.nodes[1] = { ...body.nodes[1], next_nodes: ["split"] } as (typeof body.nodes)[1];
    const res = await call("PUT", `/v0/namespace/${ns}/graph/g`, body);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      detail:
        "Error validating graph template: There should be exactly one root node in the graph but found 0 " +
        "nodes with zero in-degree: []. The graph has a cycle: split -> count -> split.",
    });
  });

  it("reports a node that is not registered once", async () => {
    const ns = freshNamespace();
    const res = await call("PUT", `/v0/namespace/${ns}/graph/g`, graphBody(ns));
    expect(res.status).toBe(201);
    const view = (await res.json()) as TemplateView;
    expect(view.validation_status).toBe("INVALID");
    expect(view.validation_errors).toEqual([
      `Node Split in namespace ${ns} does not exist.`,
      `Node Count in namespace ${ns} does not exist.`,
    ]);
  });
});

describe("GET /v0/namespace/{ns}/graph/{g} and /graphs/", () => {
  it("answers 404 with Exosphere's message for an unknown graph", async () => {
    const ns = freshNamespace();
    const res = await call("GET", `/v0/namespace/${ns}/graph/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ detail: `Graph template nope not found in namespace ${ns}` });
  });

  it("lists templates as documents without secret values or ciphertexts", async () => {
    const ns = freshNamespace();
    await registerNodes(ns);
    await call("PUT", `/v0/namespace/${ns}/graph/g1`, graphBody(ns));
    await call("PUT", `/v0/namespace/${ns}/graph/g2`, graphBody(ns, "another-secret"));
    const res = await call("GET", `/v0/namespace/${ns}/graphs/`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain("sk-very-secret-value");
    expect(text).not.toContain("another-secret");
    const list = JSON.parse(text) as {
      namespace: string;
      count: number;
      templates: Array<Record<string, unknown>>;
    };
    expect(list).toMatchObject({ namespace: ns, count: 2 });
    expect(list.templates.map((t) => t.name)).toEqual(["g1", "g2"]);
    expect(list.templates[0]).toMatchObject({
      namespace: ns,
      secrets: { api_key: true },
      validation_status: "VALID",
      retry_policy: graphBody(ns).retry_policy,
    });
    expect(list.templates[0]?._id).toMatch(/^[0-9a-f]{24}$/);
  });

  it("lists nothing for a namespace without graphs", async () => {
    const ns = freshNamespace();
    expect(await (await call("GET", `/v0/namespace/${ns}/graphs/`)).json()).toEqual({
      namespace: ns,
      count: 0,
      templates: [],
    });
  });
});

describe("graph size", () => {
  it("refuses a graph with more nodes than the limit with a 422 and stores nothing", async () => {
    const ns = freshNamespace();
    const nodes = Array.from({ length: MAX_NODES_PER_GRAPH + 1 }, (_, i) => ({
      node_name: "N",
      namespace: ns,
      identifier: `n${i}`,
      inputs: {},
      next_nodes: i < MAX_NODES_PER_GRAPH ? [`n${i + 1}`] : null,
    }));
    const res = await call("PUT", `/v0/namespace/${ns}/graph/huge`, { secrets: {}, nodes });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { detail: { loc: unknown[] }[] };
    expect(body.detail[0]?.loc).toEqual(["body", "nodes"]);
    expect((await call("GET", `/v0/namespace/${ns}/graph/huge`)).status).toBe(404);
  });
});
