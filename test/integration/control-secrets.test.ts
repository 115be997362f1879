// Graph secrets: delivered to a push node exactly as it declares them, and never returned by any API.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { call, fresh, json, runRow } from "./helpers/http";
import { TEST_NAMESPACE as NS } from "./runtime/test-nodes";

const TOKEN = "s3cr3t-token";
const OTHER = "other-secret-value-9f2c";

const secretGraph = (secrets: Record<string, string>) => ({
  secrets,
  nodes: [
    {
      node_name: "SecretNode",
      namespace: NS,
      identifier: "reader",
      inputs: { value: "x" },
      next_nodes: ["after"],
    },
    {
      node_name: "SignalNode",
      namespace: NS,
      identifier: "after",
      inputs: { value: "${{ reader.outputs.seen }}" },
    },
  ],
});

/** The raw body of a response, for scanning. */
async function text(method: string, path: string, body?: unknown) {
  const res = await call(method, path, body);
  return { status: res.status, text: await res.text() };
}

describe("secrets", () => {
  it("gives a node exactly its declared secrets and never shows a value or ciphertext", async () => {
    const graph = fresh("secrets");
    const upserted = await text(
      "PUT",
      `/v0/namespace/${NS}/graph/${graph}`,
      secretGraph({ api_token: TOKEN, other: OTHER }),
    );
    expect(upserted.status).toBe(201);
    expect(JSON.parse(upserted.text)).toMatchObject({
      validation_status: "VALID",
      secrets: { api_token: true, other: true },
    });

    const triggered = await text("POST", `/v0/namespace/${NS}/graph/${graph}/trigger`, {});
    expect(triggered.status).toBe(200);
    const runId = (JSON.parse(triggered.text) as { run_id: string }).run_id;
    await vi.waitUntil(async () => (await runRow(NS, runId))?.pending_count === 0, {
      timeout: 30_000,
      interval: 20,
    });
    expect((await runRow(NS, runId))?.status).toBe("SUCCESS");

    const runGraph = await text("GET", `/v0/namespace/${NS}/states/run/${runId}/graph`);
    const nodes = (JSON.parse(runGraph.text) as { nodes: { id: string; identifier: string }[] }).nodes;
    const details = await Promise.all(
      nodes.map((n) => text("GET", `/v0/namespace/${NS}/graph/${graph}/run/${runId}/node/${n.id}`)),
    );
    const reader = details.find((d) => JSON.parse(d.text).identifier === "reader");
    // Only the declared secret reached the node, with its decrypted value.
    expect(JSON.parse(reader?.text ?? "{}").outputs).toEqual({ seen: "api_token", token_matches: "true" });

    const ciphertexts = await runInDurableObject(env.NAMESPACE.getByName(NS), async (_a, state) =>
      Object.values(
        JSON.parse(
          state.storage.sql
            .exec<{ secrets: string }>("SELECT secrets FROM graph_templates WHERE name = ?", graph)
            .one().secrets,
        ) as Record<string, string>,
      ),
    );
    expect(ciphertexts).toHaveLength(2);

    const responses = [
      upserted,
      triggered,
      runGraph,
      ...details,
      await text("GET", `/v0/namespace/${NS}/graph/${graph}`),
      await text("GET", `/v0/namespace/${NS}/graphs/`),
      await text("GET", `/v0/namespace/${NS}/runs/1/1000`),
    ];
    for (const r of responses) {
      expect(r.status).toBeLessThan(300);
      for (const secret of [TOKEN, OTHER, ...ciphertexts]) expect(r.text).not.toContain(secret);
    }
  });

  it("marks a graph INVALID when a node declares a secret the graph lacks", async () => {
    const graph = fresh("secrets-missing");
    const res = await json<{ validation_status: string; validation_errors: string[] }>(
      "PUT",
      `/v0/namespace/${NS}/graph/${graph}`,
      secretGraph({ other: OTHER }),
    );
    expect(res.status).toBe(201);
    expect(res.body.validation_status).toBe("INVALID");
    expect(res.body.validation_errors).toEqual([
      "Secret api_token is required but not present in the graph template",
    ]);
    const trigger = await json("POST", `/v0/namespace/${NS}/graph/${graph}/trigger`, {});
    expect(trigger).toEqual({ status: 400, body: { detail: "Graph template is not valid" } });
  });
});
