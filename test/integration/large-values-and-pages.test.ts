// Large values (stored in chunks beside their row) and fan-out reports in pages, through the real routes.
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { fresh, json, runStub } from "./helpers/http";
import {
  enqueue,
  node,
  registerPull,
  report,
  stateDetails,
  statesOf,
  trigger,
  upsertValid,
} from "./helpers/pull";

/** A value several rows long, with characters of every UTF-8 width so a chunk edge lands inside them. */
const bigText = (bytes: number, seed: string) => {
  const unit = `${seed}-aé€😀`;
  return unit.repeat(Math.ceil(bytes / new TextEncoder().encode(unit).length));
};

async function pullGraph(ns: string, nodes: ReturnType<typeof node>[]) {
  await registerPull(ns, [
    { name: "P", inputs: ["v"], outputs: ["v"] },
    { name: "Q", inputs: ["v"], outputs: ["v"] },
    { name: "U", inputs: ["all"], outputs: ["v"] },
  ]);
  await upsertValid(ns, "g", { nodes });
}

const fanGraph = (ns: string) => [
  node(ns, "P", "p", { v: "x" }, ["q"]),
  node(ns, "Q", "q", { v: "${{ p.outputs.v }}" }, ["u"]),
  {
    ...node(ns, "U", "u", { all: "${{ q.outputs.v }}" }),
    unites: { identifier: "p", strategy: "ALL_SUCCESS" },
  },
];

/**
 * The unite state once it can be pulled. A unite over branches in shards is ready only after its inputs
 * were gathered from them, which happens after the last branch's report returned.
 */
async function pulledUnite(ns: string) {
  let unite: Awaited<ReturnType<typeof enqueue>>[number] | undefined;
  await vi.waitUntil(async () => {
    [unite] = await enqueue(ns, ["U"], 5);
    return unite !== undefined;
  });
  return unite;
}

/** Runs every pulled Q state to success with its own input as output. */
async function finishQs(ns: string, count: number) {
  const qs = await enqueue(ns, ["Q"], 100);
  expect(qs).toHaveLength(count);
  for (const q of qs)
    expect((await report(ns, q.state_id, "executed", { outputs: [{ v: q.inputs.v }] })).status).toBe(200);
}

/** Runs `count` pulled states of `node` to success, each with its own input `v` as output. */
async function echoAll(ns: string, node: string, count: number) {
  for (let done = 0; done < count; ) {
    const states = await enqueue(ns, [node], 100);
    expect(states.length).toBeGreaterThan(0);
    for (const s of states) await report(ns, s.state_id, "executed", { outputs: [{ v: s.inputs.v }] });
    done += states.length;
  }
}

describe("large values", () => {
  it("accepts a root input and an output larger than a row, and hands them on unchanged", async () => {
    const ns = fresh("big");
    await pullGraph(ns, [
      node(ns, "P", "p", { v: "x" }, ["q"]),
      node(ns, "Q", "q", { v: "${{ p.outputs.v }}" }),
    ]);
    const input = bigText(3_000_000, "in");
    const runId = await trigger(ns, "g", { inputs: { v: input } });
    const [p] = await enqueue(ns, ["P"], 1);
    expect(p?.inputs.v).toBe(input);

    const output = bigText(2_500_000, "out");
    expect((await report(ns, p?.state_id ?? "", "executed", { outputs: [{ v: output }] })).status).toBe(200);
    const [q] = await enqueue(ns, ["Q"], 1);
    expect(q?.inputs.v).toBe(output);
    // Shown as stored: the inputs' chunks streamed as they are, the outputs parsed.
    const shown = await stateDetails(ns, "g", runId, p?.state_id ?? "");
    expect(shown.inputs).toEqual({ v: input });
    expect(shown.outputs).toEqual({ v: output });
  });
});

describe("large values across shards", () => {
  it("hands branches heavier than a row to the shards, one batch each, and their children read them whole", async () => {
    const ns = fresh("bigshard");
    await pullGraph(ns, [
      node(ns, "P", "p", { v: "x" }, ["q"]),
      node(ns, "Q", "q", { v: "${{ p.outputs.v }}" }),
    ]);
    const runId = await trigger(ns, "g");
    const [p] = await enqueue(ns, ["P"], 1);
    // Outputs 2 and 3 go to shards (the tests' SHARD_FROM_OUTPUT is 2), each heavier than a whole SQLite row.
    const outputs = [0, 1, 2, 3].map((i) => ({ v: bigText(2_200_000, `o${i}`) }));
    expect((await report(ns, p?.state_id ?? "", "executed", { outputs })).status).toBe(200);
    const qs = await enqueue(ns, ["Q"], 10);
    expect(qs.map((q) => q.inputs.v).sort()).toEqual(outputs.map((o) => o.v).sort());
    expect((await runStub(runId).costs()).spawnRpcs).toBe(2);
  });
});

describe("fan-out reports in pages", () => {
  it("keeps the unite closed until the last page, applies a page once, and refuses a gap", async () => {
    const ns = fresh("pages");
    await pullGraph(ns, fanGraph(ns));
    const runId = await trigger(ns, "g");
    const [p] = await enqueue(ns, ["P"], 1);
    const id = p?.state_id ?? "";
    const page = (offset: number, values: string[], more: boolean) =>
      report(ns, id, "executed", { outputs: values.map((v) => ({ v })), page: { offset, more } });

    expect((await page(0, ["a", "b", "c"], true)).status).toBe(200);
    // The same page again (a runtime that retried) changes nothing.
    expect((await page(0, ["a", "b", "c"], true)).status).toBe(200);
    // A page past what arrived is refused and changes nothing.
    const gap = await page(5, ["z"], false);
    expect(gap.status).toBe(409);
    await finishQs(ns, 3);
    const between = await statesOf(ns, runId);
    expect(between.filter((s) => s.identifier === "u")).toEqual([]);
    expect(between.find((s) => s.id === id)?.status).toBe("EXECUTED");

    // The last page overlaps the first: only its new outputs become branches.
    expect((await page(2, ["c", "d", "e"], false)).status).toBe(200);
    await finishQs(ns, 2);
    const u = await pulledUnite(ns);
    expect(JSON.parse(u?.inputs.all ?? "")).toEqual(["a", "b", "c", "d", "e"]);
    const after = await statesOf(ns, runId);
    expect(after.filter((s) => s.identifier === "q")).toHaveLength(5);
    expect(after.find((s) => s.id === id)?.status).toBe("SUCCESS");
  });

  it("resumes after the run actor restarts between two pages", async () => {
    const ns = fresh("restart");
    await pullGraph(ns, fanGraph(ns));
    const runId = await trigger(ns, "g");
    const [p] = await enqueue(ns, ["P"], 1);
    const id = p?.state_id ?? "";
    expect(
      (await report(ns, id, "executed", { outputs: [{ v: "a" }], page: { offset: 0, more: true } })).status,
    ).toBe(200);
    await evictDurableObject(runStub(runId));
    expect(
      (
        await report(ns, id, "executed", {
          outputs: [{ v: "a" }, { v: "b" }],
          page: { offset: 0, more: false },
        })
      ).status,
    ).toBe(200);
    await finishQs(ns, 2);
    const u = await pulledUnite(ns);
    expect(JSON.parse(u?.inputs.all ?? "")).toEqual(["a", "b"]);
  });

  it("splits a long list sent in one request into pages, with the same result", async () => {
    const ns = fresh("split");
    await pullGraph(ns, fanGraph(ns));
    const runId = await trigger(ns, "g");
    const [p] = await enqueue(ns, ["P"], 1);
    const perPage = Number(env.REPORT_PAGE_OUTPUTS);
    const values = Array.from({ length: 5 * perPage + 3 }, (_, i) => `v${i}`);
    const res = await report(ns, p?.state_id ?? "", "executed", { outputs: values.map((v) => ({ v })) });
    expect(res.status).toBe(200);
    const costs = await runStub(runId).costs();
    // The list arrives in six RPCs of at most REPORT_PAGE_OUTPUTS outputs.
    expect(costs.reportRpcs).toBe(6);
    const qs = await json<{ nodes: { id: string; identifier: string }[]; next_cursor?: string }>(
      "GET",
      `/v0/namespace/${ns}/states/run/${runId}/graph?identifier=q&limit=${values.length - 1}`,
    );
    // One page of the q states, and a cursor that leads to the last one.
    expect(qs.body.nodes).toHaveLength(values.length - 1);
    const rest = await json<{ nodes: { id: string; identifier: string }[]; next_cursor?: string }>(
      "GET",
      `/v0/namespace/${ns}/states/run/${runId}/graph?identifier=q&cursor=${qs.body.next_cursor}`,
    );
    expect(rest.body.nodes).toHaveLength(1);
    expect(rest.body.next_cursor).toBeUndefined();
    expect(new Set([...qs.body.nodes, ...rest.body.nodes].map((n) => n.id)).size).toBe(values.length);
    expect(new Set(qs.body.nodes.map((n) => n.identifier))).toEqual(new Set(["q"]));
  });

  it("shows every clone of a fan-out kept as pages: in the paged graph, by id, with its parents' edges", async () => {
    const ns = fresh("clones");
    await pullGraph(ns, fanGraph(ns));
    const runId = await trigger(ns, "g");
    const [p] = await enqueue(ns, ["P"], 1);
    // Outputs of every shape a page keeps, and one too large for a page (it stays a row of its own).
    const values = Array.from({ length: 300 }, (_, i) => (i === 150 ? bigText(70_000, "big") : `v${i}`));
    const res = await report(ns, p?.state_id ?? "", "executed", { outputs: values.map((v) => ({ v })) });
    expect(res.status).toBe(200);
    // Walked a few states at a time, the graph lists each state once, in id order.
    const seen: { id: string; identifier: string; status: string }[] = [];
    const edges: { source: string; target: string }[] = [];
    let cursor: string | undefined;
    do {
      const page = await json<{
        nodes: { id: string; identifier: string; status: string }[];
        edges: { source: string; target: string }[];
        next_cursor?: string;
      }>("GET", `/v0/namespace/${ns}/states/run/${runId}/graph?limit=97${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.nodes);
      edges.push(...page.body.edges);
      cursor = page.body.next_cursor;
    } while (cursor);
    const ids = seen.map((n) => n.id);
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(ids.length);
    const ps = seen.filter((n) => n.identifier === "p");
    expect(ps).toHaveLength(values.length);
    expect(new Set(ps.map((n) => n.status))).toEqual(new Set(["SUCCESS"]));
    expect(seen.filter((n) => n.identifier === "q")).toHaveLength(values.length);
    // Each q's edge comes from its own p state, whose outputs are the value it was given.
    expect(edges).toHaveLength(values.length);
    const sources = new Set(edges.map((e) => e.source));
    expect(sources).toEqual(new Set(ps.map((n) => n.id)));
    // Read by id, the p states carry the outputs, each once (branches in shards interleave their ids).
    const outputs: string[] = [];
    for (const n of ps) {
      const state = await stateDetails(ns, "g", runId, n.id);
      // A clone in a shard shows its head's inputs, read from the run actor.
      expect(state).toMatchObject({ status: "SUCCESS", error: null, inputs: { v: "x" } });
      outputs.push(state.outputs.v as string);
    }
    expect(outputs.sort()).toEqual([...values].sort());
    // The live view counts the clones with the rows.
    const live = await json<{ nodes: { identifier: string; states: Record<string, number> }[] }>(
      "GET",
      `/v0/namespace/${ns}/states/run/${runId}/nodes`,
    );
    expect(live.body.nodes.find((n) => n.identifier === "p")?.states.SUCCESS).toBe(values.length);
    await echoAll(ns, "Q", values.length);
    const u = await pulledUnite(ns);
    expect(JSON.parse(u?.inputs.all ?? "")).toEqual(values);
  });

  it("gives a unite a sharded fan-out's own outputs in fan-out order", async () => {
    // p → q (fans out over the shards) → r; the unite over p reads q's own outputs, one per clone.
    const ns = fresh("order");
    await registerPull(ns, [
      { name: "P", inputs: ["v"], outputs: ["v"] },
      { name: "Q", inputs: ["v"], outputs: ["v"] },
      { name: "R", inputs: ["v"], outputs: ["v"] },
      { name: "U", inputs: ["all"], outputs: ["v"] },
    ]);
    await upsertValid(ns, "g", {
      nodes: [
        node(ns, "P", "p", { v: "x" }, ["q"]),
        node(ns, "Q", "q", { v: "${{ p.outputs.v }}" }, ["r"]),
        node(ns, "R", "r", { v: "${{ q.outputs.v }}" }, ["u"]),
        {
          ...node(ns, "U", "u", { all: "${{ q.outputs.v }}" }),
          unites: { identifier: "p", strategy: "ALL_SUCCESS" },
        },
      ],
    });
    await trigger(ns, "g");
    const [p] = await enqueue(ns, ["P"], 1);
    await report(ns, p?.state_id ?? "", "executed", { outputs: [{ v: "x" }] });
    const [q] = await enqueue(ns, ["Q"], 1);
    const values = Array.from({ length: 40 }, (_, i) => `v${String(i).padStart(2, "0")}`);
    expect(
      (await report(ns, q?.state_id ?? "", "executed", { outputs: values.map((v) => ({ v })) })).status,
    ).toBe(200);
    await echoAll(ns, "R", values.length);
    const u = await pulledUnite(ns);
    expect(JSON.parse(u?.inputs.all ?? "")).toEqual(values);
  });

  it("creates no child that reads an execution with no outputs, and fires its unite with empty arrays", async () => {
    const ns = fresh("empty");
    await pullGraph(ns, fanGraph(ns));
    const runId = await trigger(ns, "g");
    const [p] = await enqueue(ns, ["P"], 1);
    expect((await report(ns, p?.state_id ?? "", "executed", { outputs: [] })).status).toBe(200);
    const u = await pulledUnite(ns);
    expect(u?.inputs.all).toBe("[]");
    expect((await statesOf(ns, runId)).map((s) => s.identifier).sort()).toEqual(["p", "u"]);
  });
});
