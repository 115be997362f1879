// Triggering runs and listing them (spec §2.8, §2.16): the namespace actor snapshots the template and
// indexes the run, the run actor owns its states and answers the counts.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { namespaceStub } from "../../src/actors/namespace-actor";
import { runKeyOfRunId } from "../../src/engine/ids";
import { MAX_RUNS_PAGE_SIZE } from "../../src/engine/limits";
import { call, freshNamespace, stringProps } from "./helpers/http";

/** A namespace with a VALID two-node graph `g` whose root reads `${{ store.text }}`. */
async function validGraph(ns: string): Promise<void> {
  await call("PUT", `/v0/namespace/${ns}/nodes/`, {
    runtime_name: "rt",
    nodes: [
      {
        name: "Split",
        inputs_schema: stringProps("text", "mode"),
        outputs_schema: stringProps("chunk"),
        secrets: [],
      },
      { name: "Count", inputs_schema: stringProps("chunk"), outputs_schema: stringProps("n"), secrets: [] },
    ],
  });
  const res = await call("PUT", `/v0/namespace/${ns}/graph/g`, {
    secrets: {},
    nodes: [
      {
        node_name: "Split",
        namespace: ns,
        identifier: "split",
        inputs: { text: "${{ store.text }}", mode: "fast" },
        next_nodes: ["count"],
      },
      {
        node_name: "Count",
        namespace: ns,
        identifier: "count",
        inputs: { chunk: "${{ split.outputs.chunk }}" },
      },
    ],
    store_config: { required_keys: ["text"], default_values: {} },
  });
  expect(((await res.json()) as { validation_status: string }).validation_status).toBe("VALID");
}

interface RunsPage {
  namespace: string;
  total: number;
  page: number;
  size: number;
  runs: Array<Record<string, unknown>>;
}

async function runsPage(ns: string, page: number | string, size: number | string): Promise<RunsPage> {
  const res = await call("GET", `/v0/namespace/${ns}/runs/${page}/${size}`);
  expect(res.status).toBe(200);
  return (await res.json()) as RunsPage;
}

describe("POST /v0/namespace/{ns}/graph/{g}/trigger", () => {
  it("creates a run with exactly 200 and lists it as PENDING with its root state", async () => {
    const ns = freshNamespace();
    await validGraph(ns);
    const res = await call("POST", `/v0/namespace/${ns}/graph/g/trigger`, {
      store: { text: "hello world", extra: "kept" },
      inputs: { mode: "slow", ignored: "x" },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; run_id: string };
    expect(body.status).toBe("CREATED");
    expect(runKeyOfRunId(body.run_id)).not.toBeNull();

    const page = await runsPage(ns, 1, 10);
    expect(page).toMatchObject({ namespace: ns, total: 1, page: 1, size: 10 });
    expect(page.runs).toEqual([
      {
        run_id: body.run_id,
        graph_name: "g",
        success_count: 0,
        pending_count: 1,
        errored_count: 0,
        retried_count: 0,
        total_count: 1,
        status: "PENDING",
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/),
      },
    ]);
  });

  it("accepts inputs the root does not have, and says so in the response and the run's graph view", async () => {
    const ns = freshNamespace();
    await validGraph(ns);
    const res = await call("POST", `/v0/namespace/${ns}/graph/g/trigger`, {
      store: { text: "hello" },
      inputs: { mod: "slow" },
    });
    expect(res.status).toBe(200);
    const warning =
      "Input mod is not an input of root node split and was ignored (its inputs are text, mode)";
    const body = (await res.json()) as { status: string; run_id: string; warnings?: string[] };
    expect(body).toEqual({ status: "CREATED", run_id: expect.any(String), warnings: [warning] });
    const view = await call("GET", `/v0/namespace/${ns}/states/run/${body.run_id}/graph`);
    expect(view.status).toBe(200);
    expect(((await view.json()) as { warnings?: string[] }).warnings).toEqual([warning]);
  });

  it("answers Exosphere's exact trigger body, without warnings, when every input is the root's", async () => {
    const ns = freshNamespace();
    await validGraph(ns);
    const res = await call("POST", `/v0/namespace/${ns}/graph/g/trigger`, {
      store: { text: "hello" },
      inputs: { mode: "slow" },
    });
    const body = (await res.json()) as { run_id: string };
    expect(body).toEqual({ status: "CREATED", run_id: expect.any(String) });
    const view = await call("GET", `/v0/namespace/${ns}/states/run/${body.run_id}/graph`);
    expect(Object.keys((await view.json()) as object)).not.toContain("warnings");
  });

  it("hands the run actor a snapshot: resolved root inputs, the whole store, node info", async () => {
    const ns = freshNamespace();
    await validGraph(ns);
    const prepared = await namespaceStub(env, ns).prepareRun(ns, "g", {
      store: { text: "hello", extra: "kept" },
      inputs: { mode: "slow", ignored: "x" },
      start_delay: 250,
    });
    if (!prepared.ok) throw new Error(`prepareRun failed: ${JSON.stringify(prepared.error)}`);
    const b = prepared.value;
    expect(b).toMatchObject({
      namespace: ns,
      graph_name: "g",
      store: { text: "hello", extra: "kept" },
      root_inputs: { text: "hello", mode: "slow" },
      start_delay: 250,
      warnings: [
        "Input ignored is not an input of root node split and was ignored (its inputs are text, mode)",
      ],
    });
    expect(b.template.nodes.map((n) => n.identifier)).toEqual(["split", "count"]);
    expect(b.template.node_info).toEqual({
      [`${ns}/Split`]: { transport: "pull", secrets: [], inputFields: ["text", "mode"] },
      [`${ns}/Count`]: { transport: "pull", secrets: [], inputFields: ["chunk"] },
    });
    expect((await runsPage(ns, 1, 10)).runs.map((r) => r.run_id)).toEqual([b.run_id]);
  });

  it("answers 404 for an unknown graph and creates no run", async () => {
    const ns = freshNamespace();
    const res = await call("POST", `/v0/namespace/${ns}/graph/nope/trigger`, {});
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      detail: `Graph template not found for namespace ${ns} and graph nope`,
    });
    expect((await runsPage(ns, 1, 10)).total).toBe(0);
  });

  it("answers 400 for a template that is not VALID", async () => {
    const ns = freshNamespace();
    await call("PUT", `/v0/namespace/${ns}/graph/g`, {
      secrets: {},
      nodes: [{ node_name: "Unregistered", namespace: ns, identifier: "a", inputs: {} }],
    });
    const res = await call("POST", `/v0/namespace/${ns}/graph/g/trigger`, {});
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ detail: "Graph template is not valid" });
    expect((await runsPage(ns, 1, 10)).total).toBe(0);
  });

  it("answers 400 with Exosphere's detail when a root input cannot be resolved", async () => {
    const ns = freshNamespace();
    await validGraph(ns);
    const res = await call("POST", `/v0/namespace/${ns}/graph/g/trigger`, { store: {} });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/^Invalid input: /);
    expect((await runsPage(ns, 1, 10)).total).toBe(0);
  });

  it("refuses non-string store values and a negative start delay with 422", async () => {
    const ns = freshNamespace();
    await validGraph(ns);
    const res = await call("POST", `/v0/namespace/${ns}/graph/g/trigger`, {
      store: { text: 5 },
      start_delay: -1,
    });
    expect(res.status).toBe(422);
    const { detail } = (await res.json()) as { detail: Array<{ loc: unknown[]; type: string }> };
    expect(detail.map((d) => d.loc)).toEqual(
      expect.arrayContaining([
        ["body", "store", "text"],
        ["body", "start_delay"],
      ]),
    );
    expect((await runsPage(ns, 1, 10)).total).toBe(0);
  });
});

describe("GET /v0/namespace/{ns}/runs/{page}/{size}", () => {
  it("pages runs newest first with the total of the namespace", async () => {
    const ns = freshNamespace();
    await validGraph(ns);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call("POST", `/v0/namespace/${ns}/graph/g/trigger`, { store: { text: `t${i}` } });
      ids.push(((await res.json()) as { run_id: string }).run_id);
    }
    const first = await runsPage(ns, 1, 2);
    expect(first.total).toBe(3);
    expect(first.runs.map((r) => r.run_id)).toEqual([ids[2], ids[1]]);
    const second = await runsPage(ns, 2, 2);
    expect(second.runs.map((r) => r.run_id)).toEqual([ids[0]]);
    expect((await runsPage(ns, 3, 2)).runs).toEqual([]);
  });

  it("answers an empty page for a namespace without runs", async () => {
    const ns = freshNamespace();
    expect(await runsPage(ns, 1, 5)).toEqual({ namespace: ns, total: 0, page: 1, size: 5, runs: [] });
  });

  it("refuses a page or size that is not a positive integer within the limit with 422 JSON", async () => {
    const ns = freshNamespace();
    const cases: Array<[string, string, string]> = [
      ["0", "10", "greater_than_equal"],
      ["-1", "10", "greater_than_equal"],
      ["1", "0", "greater_than_equal"],
      ["abc", "10", "int_parsing"],
      ["1", "1.5", "int_parsing"],
      ["1", String(MAX_RUNS_PAGE_SIZE + 1), "less_than_equal"],
    ];
    for (const [page, size, type] of cases) {
      const res = await call("GET", `/v0/namespace/${ns}/runs/${page}/${size}`);
      expect(res.status).toBe(422);
      const { detail } = (await res.json()) as { detail: Array<{ type: string; loc: unknown[] }> };
      expect(detail[0]?.type).toBe(type);
      expect(detail[0]?.loc[0]).toBe("path");
    }
    expect((await runsPage(ns, 1, MAX_RUNS_PAGE_SIZE)).size).toBe(MAX_RUNS_PAGE_SIZE);
  });
});
