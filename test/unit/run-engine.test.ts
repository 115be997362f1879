import { describe, expect, it } from "vitest";
import { MAX_STATE_VALUE_BYTES } from "../../src/engine/limits";
import { DEFAULT_RETRY_POLICY } from "../../src/engine/model";
import { RunEngine } from "../../src/engine/run/engine";
import { GraphIndex } from "../../src/engine/run/graph-index";
import { MAX_FANOUT } from "../../src/engine/run/lineage";
import { MemoryRunStore } from "../../src/engine/run/memory-store";
import type { StateRow } from "../../src/engine/run/types";
import { type Behaviour, makeRun, node, sum } from "./run-harness";

// The seed's graph: split → process each chunk → merge once over all processed chunks.
const seedGraph = (strategy: "ALL_SUCCESS" | "ALL_DONE" = "ALL_SUCCESS") => [
  node("data_splitter", { data: "${{ store.data }}" }, ["processor"]),
  node("processor", { data: "${{ data_splitter.outputs.chunk }}" }, ["merger"]),
  node("merger", { processed_data: "${{ processor.outputs.result }}" }, null, {
    identifier: "data_splitter",
    strategy,
  }),
];

const seedRuntime =
  (onProcess?: (s: StateRow) => ReturnType<Behaviour> | undefined): Behaviour =>
  (s) => {
    if (s.identifier === "data_splitter") {
      const items = JSON.parse(s.inputs.data ?? "[]") as number[];
      return { type: "executed", outputs: items.map((x) => ({ chunk: JSON.stringify([x]) })) };
    }
    if (s.identifier === "processor") {
      return (
        onProcess?.(s) ?? { type: "executed", outputs: [{ result: String(sum(s.inputs.data ?? "[]")) }] }
      );
    }
    const parts = JSON.parse(s.inputs.processed_data ?? "[]") as string[];
    return { type: "executed", outputs: [{ merged: String(parts.reduce((a, p) => a + Number(p), 0)) }] };
  };

describe("fan-out", () => {
  it("turns N outputs into N branches, each child rendered from its own output", () => {
    const run = makeRun([node("a", {}, ["b"]), node("b", { x: "${{ a.outputs.v }}" })]);
    run.start();
    run.drain((s) =>
      s.identifier === "a"
        ? { type: "executed", outputs: [{ v: "0" }, { v: "1" }, { v: "2" }] }
        : { type: "executed", outputs: [] },
    );
    expect(run.states("a")).toHaveLength(3);
    expect(run.states("b").map((s) => s.inputs.x)).toEqual(["0", "1", "2"]);
    expect(run.states("a").map((s) => s.fanout_index)).toEqual([0, 1, 2]);
    expect(run.counts()).toEqual({
      success_count: 6,
      pending_count: 0,
      errored_count: 0,
      retried_count: 0,
      total_count: 6,
    });
    expect(run.status()).toBe("SUCCESS");
  });

  it("keeps one executed state with empty outputs when a node returns nothing", () => {
    const run = makeRun([node("a", {}, ["b"]), node("b", { x: "literal" })]);
    run.start();
    run.drain(() => ({ type: "executed", outputs: [] }));
    expect(run.states("a")).toHaveLength(1);
    expect(run.states("a")[0]?.outputs).toEqual({});
    expect(run.states("b")).toHaveLength(1);
    expect(run.status()).toBe("SUCCESS");
  });

  it("marks the whole execution NEXT_CREATED_ERROR and creates no child when an input cannot render", () => {
    const run = makeRun([node("a", {}, ["b"]), node("b", { x: "${{ a.outputs.missing }}" })]);
    run.start();
    run.drain(() => ({ type: "executed", outputs: [{ v: "1" }, { v: "2" }] }));
    expect(run.states("a").map((s) => s.status)).toEqual(["NEXT_CREATED_ERROR", "NEXT_CREATED_ERROR"]);
    expect(run.states("a")[0]?.error).toContain("Output field 'missing' not found");
    expect(run.states("b")).toHaveLength(0);
    expect(run.status()).toBe("FAILED");
  });

  it("renders store values and defaults into children", () => {
    const run = makeRun([node("a", {}, ["b"]), node("b", { x: "${{ store.k }}-${{ store.d }}" })], {
      store: { k: "from-trigger" },
      defaults: { d: "default" },
    });
    run.start();
    run.drain(() => ({ type: "executed", outputs: [] }));
    expect(run.states("b")[0]?.inputs.x).toBe("from-trigger-default");
  });
});

describe("unites", () => {
  it("runs the seed's merger once, over every chunk in fan-out order", () => {
    const run = makeRun(seedGraph(), { store: { data: JSON.stringify([1, 2, 3, 4, 5, 6, 7]) } });
    run.start({ data: JSON.stringify([1, 2, 3, 4, 5, 6, 7]) });
    run.drain(seedRuntime());
    const mergers = run.states("merger");
    expect(mergers).toHaveLength(1);
    expect(JSON.parse(mergers[0]?.inputs.processed_data ?? "")).toEqual(["1", "2", "3", "4", "5", "6", "7"]);
    expect(mergers[0]?.outputs).toEqual({ merged: "28" });
    expect(mergers[0]?.parents.map(([id]) => id)).toEqual(["data_splitter"]);
    expect(run.status()).toBe("SUCCESS");
  });

  it("creates the unite once when the last branches finish in the same batch", () => {
    const run = makeRun(seedGraph());
    run.start({ data: "[1,2,3]" });
    // One round runs the splitter; the next round reports all three processors in one batch.
    run.rounds(seedRuntime(), 2);
    expect(run.states("merger")).toHaveLength(1);
    expect(run.states("merger")[0]?.status).toBe("CREATED");
  });

  it("creates the unite state once when the last branch is pruned", () => {
    const run = makeRun(seedGraph());
    run.start({ data: "[1,2,3]" });
    run.drain(
      seedRuntime((s) => (s.inputs.data === "[3]" ? { type: "pruned", data: { why: "skip" } } : undefined)),
    );
    const merger = run.states("merger");
    expect(merger).toHaveLength(1);
    expect(JSON.parse(merger[0]?.inputs.processed_data ?? "")).toEqual(["1", "2"]);
    expect(run.status()).toBe("SUCCESS");
  });

  it("fails an ALL_SUCCESS barrier when a branch errors: unite ERRORED and never dispatched, run FAILED", () => {
    const run = makeRun(seedGraph("ALL_SUCCESS"));
    run.start({ data: "[1,2,3]" });
    run.drain(seedRuntime((s) => (s.inputs.data === "[2]" ? { type: "errored", error: "boom" } : undefined)));
    const merger = run.states("merger");
    expect(merger).toHaveLength(1);
    expect(merger[0]?.status).toBe("ERRORED");
    expect(merger[0]?.error).toMatch(/Unite barrier failed: 1 state\(s\) under data_splitter/);
    const failedId = `0123456789abcdef${run
      .states("processor")
      .find((s) => s.status === "ERRORED")
      ?.seq.toString(16)
      .padStart(8, "0")}`;
    expect(merger[0]?.error).toContain(failedId);
    expect(run.store.readyAt.has(merger[0]?.seq ?? -1)).toBe(false);
    expect(run.status()).toBe("FAILED");
  });

  it("fires an ALL_DONE unite over errored branches", () => {
    const run = makeRun(seedGraph("ALL_DONE"));
    run.start({ data: "[1,2,3]" });
    run.drain(seedRuntime((s) => (s.inputs.data === "[2]" ? { type: "errored", error: "boom" } : undefined)));
    const merger = run.states("merger");
    expect(merger).toHaveLength(1);
    expect(merger[0]?.status).toBe("SUCCESS");
    expect(merger[0]?.outputs).toEqual({ merged: "4" });
  });

  it("fires when the unite is listed directly in its target's next_nodes", () => {
    const run = makeRun([
      node("a", {}, ["b", "u"]),
      node("b", { x: "${{ a.outputs.v }}" }),
      node("u", { all: "${{ b.outputs.y }}", first: "${{ a.outputs.v }}" }, null, {
        identifier: "a",
        strategy: "ALL_SUCCESS",
      }),
    ]);
    run.start();
    run.drain((s) =>
      s.identifier === "a"
        ? { type: "executed", outputs: [{ v: "p" }, { v: "q" }] }
        : { type: "executed", outputs: [{ y: `${s.inputs.x}!` }] },
    );
    const u = run.states("u");
    expect(u).toHaveLength(1);
    expect(u[0]?.inputs).toEqual({ all: JSON.stringify(["p!", "q!"]), first: "p" });
  });

  it("fires immediately when the target has nothing below it but the unite", () => {
    const run = makeRun([
      node("a", {}, ["u"]),
      node("u", { v: "${{ a.outputs.v }}" }, null, { identifier: "a", strategy: "ALL_SUCCESS" }),
    ]);
    run.start();
    run.drain((s) => ({ type: "executed", outputs: s.identifier === "a" ? [{ v: "1" }, { v: "2" }] : [] }));
    expect(run.states("u")).toHaveLength(1);
    expect(run.states("u")[0]?.inputs).toEqual({ v: "1" });
    expect(run.status()).toBe("SUCCESS");
  });

  it("unites each level of a nested fan-out: inner unites per inner execution, outer unite once after them", () => {
    const nodes = [
      node("outer", {}, ["inner"]),
      node("inner", { group: "${{ outer.outputs.group }}" }, ["leaf"]),
      node("leaf", { item: "${{ inner.outputs.item }}" }),
      node(
        "inner_merge",
        { items: "${{ leaf.outputs.done }}", group: "${{ inner.outputs.item }}" },
        ["after"],
        {
          identifier: "inner",
          strategy: "ALL_SUCCESS",
        },
      ),
      node("after", { v: "${{ inner_merge.outputs.total }}" }),
      node("outer_merge", { totals: "${{ inner_merge.outputs.total }}" }, null, {
        identifier: "outer",
        strategy: "ALL_SUCCESS",
      }),
    ];
    const run = makeRun(nodes);
    run.start();
    run.drain((s) => {
      switch (s.identifier) {
        case "outer":
          return { type: "executed", outputs: [{ group: "A" }, { group: "B" }, { group: "C" }] };
        case "inner": {
          const n = { A: 2, B: 3, C: 1 }[s.inputs.group as "A" | "B" | "C"];
          return {
            type: "executed",
            outputs: Array.from({ length: n }, (_, i) => ({ item: `${s.inputs.group}${i}` })),
          };
        }
        case "leaf":
          return { type: "executed", outputs: [{ done: s.inputs.item ?? "" }] };
        case "inner_merge": {
          const items = JSON.parse(s.inputs.items ?? "[]") as string[];
          return { type: "executed", outputs: [{ total: items.join("+") }] };
        }
        default:
          return { type: "executed", outputs: [{ out: "x" }] };
      }
    });
    const inner = run.states("inner_merge");
    expect(inner).toHaveLength(3);
    expect(inner.map((s) => s.outputs.total).sort()).toEqual(["A0+A1", "B0+B1+B2", "C0"]);
    const outer = run.states("outer_merge");
    expect(outer).toHaveLength(1);
    expect(JSON.parse(outer[0]?.inputs.totals ?? "")).toEqual(["A0+A1", "B0+B1+B2", "C0"]);
    // The outer unite waited for the inner unites and what followed them.
    expect(run.states("after")).toHaveLength(3);
    const outerSeq = outer[0]?.seq ?? 0;
    for (const s of [...inner, ...run.states("after")]) expect(s.seq).toBeLessThan(outerSeq);
    expect(run.status()).toBe("SUCCESS");
  });

  it("waits for retries: a branch that fails then succeeds lets the unite fire once", () => {
    const run = makeRun(seedGraph(), { retry: { max_retries: 2, strategy: "FIXED", backoff_factor: 1000 } });
    run.start({ data: "[1,2]" });
    let failures = 0;
    const rt = seedRuntime((s) =>
      s.inputs.data === "[2]" && failures++ < 2 ? { type: "errored", error: "flaky" } : undefined,
    );
    for (let i = 0; i < 10; i++) {
      run.drain(rt);
      run.advance(1000);
    }
    expect(run.states("processor").map((s) => s.status)).toEqual([
      "SUCCESS",
      "RETRY_CREATED",
      "RETRY_CREATED",
      "SUCCESS",
    ]);
    expect(run.states("processor").map((s) => s.retry_count)).toEqual([0, 0, 1, 2]);
    expect(run.states("merger")).toHaveLength(1);
    expect(run.states("merger")[0]?.outputs).toEqual({ merged: "3" });
    expect(run.counts().retried_count).toBe(2);
    expect(run.status()).toBe("SUCCESS");
  });
});

describe("reports", () => {
  it("ignores a duplicate batch of reports: no extra children, retries or unites", () => {
    const run = makeRun(seedGraph(), { retry: { max_retries: 1 } });
    run.start({ data: "[1,2]" });
    const split = run.claimDue();
    const report = {
      type: "executed" as const,
      seq: split[0]?.seq ?? 0,
      outputs: [{ chunk: "[1]" }, { chunk: "[2]" }],
    };
    run.engine.apply([report], run.now);
    const outcomes = run.engine.apply([report], run.now);
    expect(outcomes).toEqual([{ applied: false, reason: "not_queued", status: "SUCCESS" }]);
    expect(run.states("processor")).toHaveLength(2);
    const procs = run.claimDue();
    const batch = procs.map((s) => ({ type: "errored" as const, seq: s.seq, error: "x" }));
    run.engine.apply(batch, run.now);
    run.engine.apply(batch, run.now);
    expect(run.states("processor")).toHaveLength(4);
    expect(run.counts().total_count).toBe(6);
  });

  it("refuses to requeue a finished state and requeues a queued one with its retry count", () => {
    const run = makeRun([node("a", {})]);
    run.start();
    const [a] = run.claimDue();
    const out = run.engine.apply([{ type: "requeue", seq: a?.seq ?? 0, delayMs: 5000 }], run.now);
    expect(out[0]).toEqual({ applied: true, status: "CREATED", enqueueAfter: run.now + 5000 });
    expect(run.claimDue()).toHaveLength(0);
    run.advance(5000);
    const [again] = run.claimDue();
    expect(again?.seq).toBe(a?.seq);
    run.engine.apply([{ type: "executed", seq: again?.seq ?? 0, outputs: [] }], run.now);
    const refused = run.engine.apply([{ type: "requeue", seq: a?.seq ?? 0, delayMs: 5000 }], run.now);
    expect(refused[0]).toEqual({ applied: false, reason: "terminal", status: "SUCCESS" });
  });

  it("refuses to requeue a CREATED state that nobody claimed, leaving it due", () => {
    const run = makeRun([node("a", {})]);
    run.start();
    const [a] = run.states("a");
    const out = run.engine.apply([{ type: "requeue", seq: a?.seq ?? 0, delayMs: 5000 }], run.now);
    expect(out[0]).toEqual({ applied: false, reason: "not_queued", status: "CREATED" });
    expect(run.claimDue().map((s) => s.seq)).toEqual([a?.seq]);
  });
});

describe("manual retry", () => {
  it("reruns an errored branch with its inputs and parents, and then lets an open barrier fire", () => {
    const run = makeRun(seedGraph());
    run.start({ data: "[1,2]" });
    // Splitter, then the processors: [2] errors while [1] is still out.
    run.rounds(seedRuntime(), 1);
    const procs = run.claimDue();
    const bad = procs.find((s) => s.inputs.data === "[2]");
    const good = procs.find((s) => s.inputs.data === "[1]");
    run.engine.apply([{ type: "errored", seq: bad?.seq ?? 0, error: "boom" }], run.now);
    const retry = run.engine.manualRetry(bad?.seq ?? 0, "fix-1", run.now);
    expect(retry.inputs).toEqual(bad?.inputs);
    expect(retry.parents).toEqual(bad?.parents);
    expect(retry.retry_count).toBe(0);
    expect(run.store.getState(bad?.seq ?? 0)?.status).toBe("RETRY_CREATED");
    expect(() => run.engine.manualRetry(bad?.seq ?? 0, "fix-1", run.now)).toThrow(/409|RETRY_CREATED/);
    run.engine.apply([{ type: "executed", seq: good?.seq ?? 0, outputs: [{ result: "1" }] }], run.now);
    run.drain(seedRuntime());
    const merger = run.states("merger");
    expect(merger.map((m) => m.status)).toEqual(["SUCCESS"]);
    expect(merger[0]?.outputs).toEqual({ merged: "3" });
    expect(run.status()).toBe("SUCCESS");
  });

  it("refuses a state that succeeded and a duplicate fanout id", () => {
    const run = makeRun([node("a", {})]);
    run.start();
    run.drain(() => ({ type: "errored", error: "x" }));
    const [a] = run.states("a");
    run.engine.manualRetry(a?.seq ?? 0, "same", run.now);
    run.drain(() => ({ type: "pruned", data: {} }));
    const pruned = run.states("a").find((s) => s.status === "PRUNED");
    expect(() => run.engine.manualRetry(pruned?.seq ?? 0, "same", run.now)).toThrow(
      "Duplicate retry state detected",
    );
    const other = run.engine.manualRetry(pruned?.seq ?? 0, "other", run.now);
    run.drain(() => ({ type: "executed", outputs: [] }));
    expect(() => run.engine.manualRetry(other.seq, "third", run.now)).toThrow(/State is SUCCESS/);
  });
});

describe("bounds on stored values", () => {
  it("fails an attempt that fans out wider than a lineage key can order, creating nothing", () => {
    const run = makeRun([node("a", {}, ["b"]), node("b", { v: "${{ a.outputs.v }}" })]);
    run.start();
    const [a] = run.claimDue();
    const one = { v: "x" };
    const [outcome] = run.engine.apply(
      [{ type: "executed", seq: a?.seq ?? 0, outputs: new Array(MAX_FANOUT + 1).fill(one) }],
      run.now,
    );
    expect(outcome).toMatchObject({ applied: true, status: "ERRORED" });
    expect(run.states("a")[0]?.error).toBe(`A state may fan out to at most ${MAX_FANOUT} outputs`);
    expect(run.states("a")).toHaveLength(1);
    expect(run.states("b")).toHaveLength(0);
  });

  it("fails an attempt whose output is too large to store, and keeps the rest of the batch", () => {
    const run = makeRun([node("a", {})]);
    run.start();
    const [a] = run.claimDue();
    const huge = "x".repeat(MAX_STATE_VALUE_BYTES + 1);
    const [outcome] = run.engine.apply(
      [{ type: "executed", seq: a?.seq ?? 0, outputs: [{ v: "ok" }, { v: huge }] }],
      run.now,
    );
    expect(outcome).toMatchObject({ applied: true, status: "ERRORED" });
    expect(run.states("a")[0]?.error).toBe(`Output 1 is larger than ${MAX_STATE_VALUE_BYTES} bytes`);
    expect(run.states("a")).toHaveLength(1);
  });

  it("records a unite whose array input would be too large as ERRORED, never dispatched", () => {
    const half = "y".repeat(MAX_STATE_VALUE_BYTES / 2 + 10);
    const run = makeRun(seedGraph());
    run.start({ data: "[1,2]" });
    run.drain(seedRuntime((s) => ({ type: "executed", outputs: [{ result: `${s.inputs.data}${half}` }] })));
    const merger = run.states("merger");
    expect(merger).toHaveLength(1);
    expect(merger[0]?.status).toBe("ERRORED");
    expect(merger[0]?.error).toMatch(
      /^Unite inputs could not be built: Inputs of 'merger' would be larger than/,
    );
    expect(run.store.readyAt.has(merger[0]?.seq ?? -1)).toBe(false);
  });

  it("refuses to retry a unite that failed at its barrier", () => {
    const run = makeRun(seedGraph());
    run.start({ data: "[1,2]" });
    run.drain(seedRuntime((s) => (s.inputs.data === "[2]" ? { type: "errored", error: "boom" } : undefined)));
    const [merger] = run.states("merger");
    expect(merger?.status).toBe("ERRORED");
    expect(() => run.engine.manualRetry(merger?.seq ?? 0, "again", run.now)).toThrow(/cannot be retried/);
  });

  it("fires an ALL_SUCCESS unite that failed at its barrier once its failed branches are retried to success", () => {
    const run = makeRun(seedGraph());
    run.start({ data: "[1,2,3]" });
    let broken = true;
    const behave = seedRuntime((s) =>
      broken && s.inputs.data !== "[1]" ? { type: "errored", error: "boom" } : undefined,
    );
    run.drain(behave);
    expect(run.states("merger").map((m) => m.status)).toEqual(["ERRORED"]);
    expect(run.status()).toBe("FAILED");
    broken = false;
    const failed = run.states("processor").filter((p) => p.status === "ERRORED");
    expect(failed).toHaveLength(2);
    // One of the two retried: the barrier still has a failure, so the unite does not fire yet.
    run.engine.manualRetry(failed[0]?.seq ?? 0, "r1", run.now);
    run.drain(behave);
    expect(run.states("merger").map((m) => m.status)).toEqual(["ERRORED"]);
    // The last one: the barrier fires, the failed unite is superseded, and the merge sees every branch
    // (the retried ones in their fan-out places).
    run.engine.manualRetry(failed[1]?.seq ?? 0, "r2", run.now);
    run.drain(behave);
    const mergers = run.states("merger");
    expect(mergers.map((m) => m.status)).toEqual(["RETRY_CREATED", "SUCCESS"]);
    expect(mergers[1]?.outputs).toEqual({ merged: "6" });
    expect(JSON.parse(mergers[1]?.inputs.processed_data ?? "")).toEqual(["1", "2", "3"]);
    expect(run.counts()).toMatchObject({ errored_count: 0, pending_count: 0, retried_count: 3 });
    expect(run.status()).toBe("SUCCESS");
    // Fired once more only: a repeated drain creates nothing.
    run.drain(behave);
    expect(run.states("merger")).toHaveLength(2);
  });

  it("rescues nested unites: the inner barrier fires again, then the outer one", () => {
    // outer fan-out → inner fan-out → leaf; inner_merge unites inner, outer_merge unites outer.
    const run = makeRun([
      node("outer", {}, ["inner"]),
      node("inner", { o: "${{ outer.outputs.v }}" }, ["leaf", "inner_merge"]),
      node("leaf", { i: "${{ inner.outputs.v }}" }),
      node("inner_merge", { xs: "${{ leaf.outputs.r }}" }, ["outer_merge"], {
        identifier: "inner",
        strategy: "ALL_SUCCESS",
      }),
      node("outer_merge", { ys: "${{ inner_merge.outputs.n }}" }, null, {
        identifier: "outer",
        strategy: "ALL_SUCCESS",
      }),
    ]);
    run.start();
    let broken = true;
    const behave: Behaviour = (s) => {
      if (s.identifier === "outer") return { type: "executed", outputs: [{ v: "a" }, { v: "b" }] };
      if (s.identifier === "inner") return { type: "executed", outputs: [{ v: "1" }, { v: "2" }] };
      if (s.identifier === "leaf") {
        if (broken && s.inputs.i === "2") return { type: "errored", error: "boom" };
        return { type: "executed", outputs: [{ r: s.inputs.i ?? "" }] };
      }
      if (s.identifier === "inner_merge") {
        return {
          type: "executed",
          outputs: [{ n: String((JSON.parse(s.inputs.xs ?? "[]") as string[]).length) }],
        };
      }
      return { type: "executed", outputs: [{ total: s.inputs.ys ?? "" }] };
    };
    run.drain(behave);
    expect(run.status()).toBe("FAILED");
    expect(run.states("outer_merge").map((m) => m.status)).toEqual(["ERRORED"]);
    broken = false;
    for (const leaf of run.states("leaf").filter((l) => l.status === "ERRORED")) {
      run.engine.manualRetry(leaf.seq, `r${leaf.seq}`, run.now);
    }
    run.drain(behave);
    expect(run.states("inner_merge").filter((m) => m.status === "SUCCESS")).toHaveLength(2);
    const outerMerges = run.states("outer_merge");
    expect(outerMerges.map((m) => m.status)).toEqual(["RETRY_CREATED", "SUCCESS"]);
    expect(outerMerges[1]?.outputs).toEqual({ total: '["2","2"]' });
    expect(run.counts()).toMatchObject({ errored_count: 0, pending_count: 0 });
    expect(run.status()).toBe("SUCCESS");
  });
});

describe("manual retry of a fan-out execution", () => {
  it("retries a NEXT_CREATED_ERROR execution from its head, superseding its clones, and refuses a clone", () => {
    const run = makeRun([node("a", {}, ["b"]), node("b", { x: "${{ a.outputs.v }}" })]);
    run.start();
    let fixed = false;
    const behave = (s: { identifier: string }) =>
      s.identifier === "a"
        ? { type: "executed" as const, outputs: fixed ? [{ v: "1" }, { v: "2" }] : [{ w: "1" }, { w: "2" }] }
        : { type: "executed" as const, outputs: [] };
    run.drain(behave);
    const [head, clone] = run.states("a");
    expect([head?.status, clone?.status]).toEqual(["NEXT_CREATED_ERROR", "NEXT_CREATED_ERROR"]);
    expect(() => run.engine.manualRetry(clone?.seq ?? 0, "c", run.now)).toThrow(/fan-out clone/);
    fixed = true;
    run.engine.manualRetry(head?.seq ?? 0, "h", run.now);
    expect(run.store.getState(clone?.seq ?? 0)?.status).toBe("RETRY_CREATED");
    run.drain(behave);
    expect(run.states("b").map((s) => s.inputs.x)).toEqual(["1", "2"]);
    expect(run.counts()).toMatchObject({ errored_count: 0, retried_count: 2 });
    expect(run.status()).toBe("SUCCESS");
  });
});

describe("the root of a run", () => {
  /** A store that, like the run actor's, can write a state born claimed and hand it to the dispatcher. */
  class ClaimingStore extends MemoryRunStore {
    claims: { seq: number; leaseExpires: number; delivery: number }[] = [];
    born: StateRow[][] = [];
    insertClaimed(row: StateRow, leaseExpires: number, delivery: number): void {
      this.insertState(row);
      this.claims.push({ seq: row.seq, leaseExpires, delivery });
    }
    bornClaimed(states: StateRow[]): void {
      this.born.push(states);
    }
  }

  const startRoot = (delayMs: number, transport: "queue" | "pull" = "queue") => {
    const root = node("root", { x: "${{ store.x }}" });
    const store = new ClaimingStore({ x: "1" });
    const engine = new RunEngine(
      store,
      new GraphIndex({
        nodes: [root],
        retry_policy: { ...DEFAULT_RETRY_POLICY, max_retries: 0 },
        store_config: { required_keys: [], default_values: {} },
        secrets: {},
        node_info: { "t/root": { transport, secrets: [], inputFields: ["x"] } },
      }),
      {
        runKey: "0123456789abcdef",
        namespace: "t",
        graphName: "g",
        retryPolicy: DEFAULT_RETRY_POLICY,
        newFanoutId: () => "f",
        claimAtBirth: () => ({ leaseExpires: 5_000, delivery: 3 }),
      },
    );
    const state = engine.start({}, delayMs, 1_000);
    return { store, state, row: store.getState(state.seq) };
  };

  it("is born claimed when it is due now and pushed: queued, leased, handed to the dispatcher", () => {
    const { store, state, row } = startRoot(0);
    expect(row?.status).toBe("QUEUED");
    expect(store.claims).toEqual([{ seq: state.seq, leaseExpires: 5_000, delivery: 3 }]);
    expect(store.born.map((b) => b.map((s) => s.seq))).toEqual([[state.seq]]);
    expect(store.counts.get("QUEUED")).toBe(1);
  });

  it("is written ready when it is delayed or pulled, for a dispatch round to claim", () => {
    for (const { store, row } of [startRoot(60_000), startRoot(0, "pull")]) {
      expect(row?.status).toBe("CREATED");
      expect(store.claims).toEqual([]);
      expect(store.born).toEqual([]);
    }
  });
});
