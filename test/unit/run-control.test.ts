// Run control in the platform-free core (design §6, docs/control-features.md): cancelling a run,
// tolerated failures in a unite (on one actor, nested, and over a branch shard), the sharding rule for
// concurrency-limited nodes, and the timeout rules.
import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_POLICY, type NodeTemplate, type Unites } from "../../src/engine/model";
import {
  CANCELLED_ERROR,
  exceedsTolerance,
  executionLeaseMs,
  leaseExpiryError,
  timeoutError,
} from "../../src/engine/run/control";
import { runCounts, runStatus } from "../../src/engine/run/counts";
import { RunEngine } from "../../src/engine/run/engine";
import { GraphIndex } from "../../src/engine/run/graph-index";
import { MemoryRunStore } from "../../src/engine/run/memory-store";
import type { NodeInfo, RunTemplateSnapshot } from "../../src/engine/run/snapshot";
import type { StateRow } from "../../src/engine/run/types";
import { type Behaviour, makeRun, node } from "./run-harness";

const ok = (outputs: Record<string, unknown>[]) => ({ type: "executed" as const, outputs });
const fail = { type: "errored" as const, error: "boom" };

/** split → work (per item) → merge (unites split, reading work's results). */
function splitGraph(unites: Partial<Unites> = {}, work: Partial<NodeTemplate> = {}): NodeTemplate[] {
  return [
    node("split", {}, ["work"]),
    { ...node("work", { x: "${{ split.outputs.x }}" }, ["after"]), ...work },
    node("after", { y: "${{ work.outputs.y }}" }),
    node("merge", { ys: "${{ work.outputs.y }}" }, null, {
      identifier: "split",
      strategy: "ALL_SUCCESS",
      ...unites,
    }),
  ];
}

/** `width` items; work fails for the items listed in `failing`, and `after` succeeds. */
const splitRuntime =
  (width: number, failing: number[]): Behaviour =>
  (s) => {
    if (s.identifier === "split") return ok(Array.from({ length: width }, (_, i) => ({ x: String(i) })));
    if (s.identifier === "work") return failing.includes(Number(s.inputs.x)) ? fail : ok([{ y: s.inputs.x }]);
    return ok([{ done: "yes" }]);
  };

const statusOf = (run: ReturnType<typeof makeRun>) =>
  runStatus(run.counts(), { cancelled: run.store.isCancelled(), tolerated: run.store.tolerated });

describe("cancelling a run", () => {
  it("moves every waiting and running state to CANCELLED, refuses late reports and fires no unite", () => {
    const run = makeRun(splitGraph());
    run.start();
    run.rounds(splitRuntime(4, []), 1); // split ran: four work states are ready
    const running = run.claimDue(); // handed to runtimes: QUEUED
    expect(running).toHaveLength(4);
    expect(run.engine.cancel(run.now)).toBe(true);

    expect(run.states("work").map((s) => s.status)).toEqual(Array(4).fill("CANCELLED"));
    expect(run.states("work")[0]?.error).toBe(CANCELLED_ERROR);
    expect(run.counts()).toMatchObject({
      pending_count: 0,
      success_count: 4, // the split and its three fan-out clones
      cancelled_count: 4,
      total_count: 8,
    });
    expect(statusOf(run)).toBe("CANCELLED");

    // The runtimes report late: nothing changes, no child, no unite.
    const outcomes = run.engine.apply(
      running.map((s) => ({ type: "executed", seq: s.seq, outputs: [{ y: "1" }] })),
      run.now,
    );
    expect(outcomes.every((o) => !o.applied)).toBe(true);
    expect(run.engine.apply([{ type: "requeue", seq: running[0]?.seq ?? 0, delayMs: 10 }], run.now)).toEqual([
      { applied: false, reason: "terminal", status: "CANCELLED" },
    ]);
    expect(run.states("after")).toHaveLength(0);
    expect(run.states("merge")).toHaveLength(0);
    expect(run.claimDue()).toHaveLength(0);
    // A second cancel changes nothing.
    expect(run.engine.cancel(run.now)).toBe(false);
    expect(run.counts().cancelled_count).toBe(4);
  });

  it("cancels a retry waiting for its delay, and refuses a manual retry afterwards", () => {
    const run = makeRun(splitGraph(), { retry: { max_retries: 2, backoff_factor: 60_000 } });
    run.start();
    run.rounds(splitRuntime(1, [0]), 2); // work failed once: its retry waits a minute
    expect(run.states("work").map((s) => s.status)).toEqual(["RETRY_CREATED", "CREATED"]);
    run.engine.cancel(run.now);
    run.advance(120_000);
    expect(run.claimDue()).toHaveLength(0);
    const [first] = run.states("work");
    expect(() => run.engine.manualRetry(first?.seq ?? 0, "again", run.now)).toThrow(/cancelled/);
  });
});

describe("tolerated failures in a unite", () => {
  it("fires over the successful branches, in fan-out order, and the run succeeds", () => {
    const run = makeRun(splitGraph({ tolerated_failure_count: 2 }));
    run.start();
    run.drain(splitRuntime(6, [1, 4]));
    const [merge] = run.states("merge");
    expect(merge?.status).toBe("SUCCESS");
    expect(merge?.inputs.ys).toBe(JSON.stringify(["0", "2", "3", "5"]));
    expect(run.states("work").filter((s) => s.status === "ERRORED")).toHaveLength(2);
    expect(run.counts().errored_count).toBe(2);
    expect(run.store.tolerated).toBe(2);
    expect(statusOf(run)).toBe("SUCCESS");
  });

  it("fails the unite at once when the failures exceed the count, without waiting for the rest", () => {
    const run = makeRun(splitGraph({ tolerated_failure_count: 1 }));
    run.start();
    run.rounds(splitRuntime(5, []), 1);
    const work = run.claimDue();
    // Two of five fail; three are still running.
    run.engine.apply(
      work.slice(0, 2).map((s) => ({ ...fail, seq: s.seq })),
      run.now,
    );
    const [merge] = run.states("merge");
    expect(merge?.status).toBe("ERRORED");
    expect(merge?.error).toMatch(/Unite barrier failed: 2 state\(s\)/);
    expect(run.states("work").filter((s) => s.status === "QUEUED")).toHaveLength(3);
    // The rest finish: the unite already failed and is not created again.
    run.engine.apply(
      work.slice(2).map((s) => ({ type: "executed", seq: s.seq, outputs: [{ y: s.inputs.x }] })),
      run.now,
    );
    run.drain(splitRuntime(5, []));
    expect(run.states("merge")).toHaveLength(1);
    expect(statusOf(run)).toBe("FAILED");
  });

  it("tolerates a percentage of the execution's outputs, and fails past it", () => {
    const within = makeRun(splitGraph({ tolerated_failure_percentage: 40 }));
    within.start();
    within.drain(splitRuntime(5, [0, 3]));
    expect(within.states("merge")[0]?.status).toBe("SUCCESS");
    expect(within.states("merge")[0]?.inputs.ys).toBe(JSON.stringify(["1", "2", "4"]));
    expect(statusOf(within)).toBe("SUCCESS");

    const past = makeRun(splitGraph({ tolerated_failure_percentage: 40 }));
    past.start();
    past.drain(splitRuntime(5, [0, 3, 4]));
    expect(past.states("merge")[0]?.status).toBe("ERRORED");
    expect(statusOf(past)).toBe("FAILED");
  });

  it("with both limits, fails when either one is exceeded", () => {
    const u: Unites = {
      identifier: "t",
      strategy: "ALL_SUCCESS",
      tolerated_failure_count: 5,
      tolerated_failure_percentage: 10,
    };
    expect(exceedsTolerance(u, 2, 100)).toBe(false);
    expect(exceedsTolerance(u, 6, 100)).toBe(true); // count
    expect(exceedsTolerance(u, 2, 10)).toBe(true); // 20 % > 10 %
    expect(exceedsTolerance(u, 2, 10, false)).toBe(false); // the width may still grow
    expect(exceedsTolerance({ identifier: "t", strategy: "ALL_SUCCESS" }, 1, 100)).toBe(true);
  });

  it("keeps an outer ALL_SUCCESS unite from failing for failures an inner unite tolerated", () => {
    // a fans out; per item, b fans out; c per b item; inner unites b tolerating 1; outer unites a.
    const nodes: NodeTemplate[] = [
      node("a", {}, ["b"]),
      node("b", { i: "${{ a.outputs.i }}" }, ["c"]),
      node("c", { j: "${{ b.outputs.j }}" }),
      node("inner", { cs: "${{ c.outputs.v }}" }, null, {
        identifier: "b",
        strategy: "ALL_SUCCESS",
        tolerated_failure_count: 1,
      }),
      node("outer", { n: "${{ inner.outputs.n }}" }, null, { identifier: "a", strategy: "ALL_SUCCESS" }),
    ];
    const runtime: Behaviour = (s: StateRow) => {
      if (s.identifier === "a") return ok([{ i: "0" }, { i: "1" }]);
      if (s.identifier === "b") return ok([0, 1, 2].map((j) => ({ j: `${s.inputs.i}.${j}` })));
      // One c per b execution fails: within the inner tolerance.
      if (s.identifier === "c") return s.inputs.j?.endsWith(".1") ? fail : ok([{ v: s.inputs.j }]);
      if (s.identifier === "inner") return ok([{ n: String(JSON.parse(s.inputs.cs ?? "[]").length) }]);
      return ok([{ done: "yes" }]);
    };
    const run = makeRun(nodes);
    run.start();
    run.drain(runtime);
    expect(run.states("inner").map((s) => [s.status, s.inputs.cs])).toEqual([
      ["SUCCESS", JSON.stringify(["0.0", "0.2"])],
      ["SUCCESS", JSON.stringify(["1.0", "1.2"])],
    ]);
    expect(run.states("outer")[0]?.status).toBe("SUCCESS");
    expect(run.states("outer")[0]?.inputs.n).toBe(JSON.stringify(["2", "2"]));
    expect(statusOf(run)).toBe("SUCCESS");
  });

  it("lets an outer unite see an inner unite that exceeded its tolerance as one failure", () => {
    const nodes: NodeTemplate[] = [
      node("a", {}, ["b"]),
      node("b", { i: "${{ a.outputs.i }}" }, ["c"]),
      node("c", { j: "${{ b.outputs.j }}" }),
      node("inner", {}, null, { identifier: "b", strategy: "ALL_SUCCESS", tolerated_failure_count: 0 }),
      node("outer", {}, null, { identifier: "a", strategy: "ALL_SUCCESS", tolerated_failure_count: 1 }),
    ];
    const runtime: Behaviour = (s: StateRow) => {
      if (s.identifier === "a") return ok([{ i: "0" }, { i: "1" }]);
      if (s.identifier === "b") return ok([{ j: `${s.inputs.i}.0` }, { j: `${s.inputs.i}.1` }]);
      // Both c of the first b fail: that inner unite fails (two failures, counted once outside).
      if (s.identifier === "c") return s.inputs.j?.startsWith("0.") ? fail : ok([{ v: "v" }]);
      return ok([{ done: "yes" }]);
    };
    const run = makeRun(nodes);
    run.start();
    run.drain(runtime);
    expect(
      run
        .states("inner")
        .map((s) => s.status)
        .sort(),
    ).toEqual(["ERRORED", "SUCCESS"]);
    expect(run.states("outer")[0]?.status).toBe("SUCCESS");
    // Two c failures were not tolerated by anyone (the inner unite failed): the run fails.
    expect(statusOf(run)).toBe("FAILED");
  });
});

/** A run actor and one branch shard over memory stores, the network delivered by hand. */
function shardedRun(nodes: NodeTemplate[]) {
  const node_info: Record<string, NodeInfo> = {};
  for (const n of nodes) {
    node_info[`t/${n.node_name}`] = { transport: "queue", secrets: [], inputFields: Object.keys(n.inputs) };
  }
  const snap: RunTemplateSnapshot = {
    nodes,
    retry_policy: { ...DEFAULT_RETRY_POLICY, max_retries: 0 },
    store_config: { required_keys: [], default_values: {} },
    secrets: {},
    node_info,
  };
  let fanout = 0;
  const actors = [0, 1].map((shard) => {
    const store = new MemoryRunStore({}, shard);
    const engine = new RunEngine(store, new GraphIndex(snap), {
      runKey: "0123456789abcdef",
      namespace: "t",
      graphName: "g",
      retryPolicy: snap.retry_policy,
      newFanoutId: () => `f${++fanout}`,
      shard,
      shards: { count: 1, from: 1 },
    });
    return { store, engine };
  });
  const [run, shard] = actors as [(typeof actors)[0], (typeof actors)[0]];
  const now = 1_000_000;
  /** Delivers spawn batches and the shard's settle delta (counts, barrier changes, tolerated). */
  const deliver = () => {
    for (const f of run.store.forwarded.splice(0)) shard.engine.adopt(f.batch, now);
    const counts = Object.fromEntries([...shard.store.counts].filter(([, n]) => n !== 0));
    shard.store.counts.clear();
    const tolerated = shard.store.tolerated;
    shard.store.tolerated = 0;
    run.engine.applySettle({ counts, barriers: shard.store.remoteDeltas.splice(0), tolerated }, now);
  };
  const drain = (behaviour: Behaviour) => {
    for (let i = 0; i < 50; i++) {
      let moved = false;
      for (const a of actors) {
        const due = [...a.store.readyAt.keys()];
        a.store.readyAt.clear();
        const claimed = a.engine.claim(due, now);
        if (claimed.length > 0) moved = true;
        a.engine.apply(
          claimed.map((s) => ({ ...behaviour(s), seq: s.seq }) as never),
          now,
        );
        deliver();
      }
      if (!moved) return;
    }
    throw new Error("run did not settle");
  };
  const all = (identifier: string) => [
    ...run.store.byIdentifier(identifier),
    ...shard.store.byIdentifier(identifier),
  ];
  const status = () =>
    runStatus(runCounts(Object.fromEntries(run.store.counts)), { tolerated: run.store.tolerated });
  return { run, shard, drain, all, status, now };
}

describe("run control over a branch shard", () => {
  it("counts failures in shards against the run actor's tolerant barrier", () => {
    const s = shardedRun([
      node("split", {}, ["work"]),
      node("work", { x: "${{ split.outputs.x }}" }),
      node("merge", {}, null, { identifier: "split", strategy: "ALL_SUCCESS", tolerated_failure_count: 2 }),
    ]);
    s.run.engine.start({}, 0, s.now);
    s.drain(splitRuntime(6, [2, 5]));
    // Branches 1..5 lived in the shard, both failures among them.
    expect(s.shard.store.byIdentifier("work").filter((w) => w.status === "ERRORED")).toHaveLength(2);
    expect(s.run.store.byIdentifier("merge")[0]?.status).toBe("SUCCESS");
    expect(s.status()).toBe("SUCCESS");
  });

  it("fails the barrier at once when shard failures exceed it", () => {
    const s = shardedRun([
      node("split", {}, ["work"]),
      node("work", { x: "${{ split.outputs.x }}" }),
      node("merge", {}, null, { identifier: "split", strategy: "ALL_SUCCESS", tolerated_failure_count: 1 }),
    ]);
    s.run.engine.start({}, 0, s.now);
    s.drain(splitRuntime(6, [2, 4, 5]));
    expect(s.run.store.byIdentifier("merge").map((m) => m.status)).toEqual(["ERRORED"]);
    expect(s.status()).toBe("FAILED");
  });

  it("carries a nested unite's tolerated failures from the shard to the run's status", () => {
    const s = shardedRun([
      node("a", {}, ["b"]),
      node("b", { i: "${{ a.outputs.i }}" }, ["c"]),
      node("c", { j: "${{ b.outputs.j }}" }),
      node("inner", {}, null, { identifier: "b", strategy: "ALL_SUCCESS", tolerated_failure_percentage: 50 }),
      node("outer", {}, null, { identifier: "a", strategy: "ALL_SUCCESS" }),
    ]);
    s.run.engine.start({}, 0, s.now);
    s.drain((st) => {
      if (st.identifier === "a") return ok([{ i: "0" }, { i: "1" }, { i: "2" }]);
      if (st.identifier === "b") return ok([{ j: `${st.inputs.i}.0` }, { j: `${st.inputs.i}.1` }]);
      if (st.identifier === "c") return st.inputs.j?.endsWith(".1") ? fail : ok([{ v: "v" }]);
      return ok([{ done: "yes" }]);
    });
    expect(s.shard.store.byIdentifier("inner").map((i) => i.status)).toEqual(["SUCCESS", "SUCCESS"]);
    expect(s.all("c").filter((c) => c.status === "ERRORED")).toHaveLength(3);
    expect(s.run.store.tolerated).toBe(3);
    expect(s.run.store.byIdentifier("outer")[0]?.status).toBe("SUCCESS");
    expect(s.status()).toBe("SUCCESS");
  });

  it("cancels branches that reach a cancelled shard after the cancel, keeping the counts exact", () => {
    const s = shardedRun([node("split", {}, ["work"]), node("work", { x: "${{ split.outputs.x }}" })]);
    s.run.engine.start({}, 0, s.now);
    const [root] = s.run.engine.claim([...s.run.store.readyAt.keys()], s.now);
    s.run.store.readyAt.clear();
    s.run.engine.apply(
      [{ type: "executed", seq: root?.seq ?? 0, outputs: [0, 1, 2, 3].map((i) => ({ x: String(i) })) }],
      s.now,
    );
    // The cancel reaches the shard before the batch of branches does.
    s.run.engine.cancel(s.now);
    s.shard.engine.cancel(s.now);
    for (const f of s.run.store.forwarded.splice(0)) s.shard.engine.adopt(f.batch, s.now);
    const counts = Object.fromEntries([...s.shard.store.counts].filter(([, n]) => n !== 0));
    s.run.engine.applySettle({ counts, barriers: [] }, s.now);
    expect(s.shard.store.byIdentifier("work").map((w) => w.status)).toEqual([
      "CANCELLED",
      "CANCELLED",
      "CANCELLED",
    ]);
    expect(s.shard.store.readyAt.size).toBe(0);
    expect(runCounts(Object.fromEntries(s.run.store.counts))).toMatchObject({
      pending_count: 0,
      cancelled_count: 4,
      success_count: 4, // the split and its three clones
    });
  });
});

describe("concurrency limits and sharding", () => {
  it("keeps a fan-out in the run actor when a concurrency-limited node runs downstream", () => {
    const s = shardedRun([
      node("split", {}, ["work"]),
      { ...node("work", { x: "${{ split.outputs.x }}" }, ["call"]) },
      { ...node("call", { x: "${{ work.outputs.y }}" }), max_concurrency: 2 },
    ]);
    s.run.engine.start({}, 0, s.now);
    s.drain(splitRuntime(5, []));
    expect(s.run.store.usesShards()).toBe(false);
    expect(s.run.store.byIdentifier("call")).toHaveLength(5);
    expect(s.shard.store.states.size).toBe(0);
  });

  it("still shards a fan-out whose limited node follows its own unite, which runs in the run actor", () => {
    const graph = new GraphIndex({
      nodes: [
        node("split", {}, ["work"]),
        node("work", {}, ["merge"]),
        node("merge", {}, ["notify"], { identifier: "split", strategy: "ALL_SUCCESS" }),
        { ...node("notify", {}), max_concurrency: 1 },
      ],
      retry_policy: DEFAULT_RETRY_POLICY,
      store_config: { required_keys: [], default_values: {} },
      secrets: {},
      node_info: {},
    });
    expect(graph.shardable("split")).toBe(true);
    expect(graph.concurrencyLimits.get("notify")).toBe(1);
  });
});

describe("timeouts", () => {
  it("uses the node's timeout_seconds as its execution lease, else the transport's", () => {
    expect(executionLeaseMs({ timeout_seconds: 30 }, 300_000)).toBe(30_000);
    expect(executionLeaseMs({}, 300_000)).toBe(300_000);
    const graph = new GraphIndex({
      nodes: [{ ...node("slow", {}), timeout_seconds: 45 }],
      retry_policy: DEFAULT_RETRY_POLICY,
      store_config: { required_keys: [], default_values: {} },
      secrets: {},
      node_info: {},
    });
    expect(graph.executionLeaseMs("slow", 300_000)).toBe(45_000);
  });

  it("names the timeout when a pull claim's lease (the timeout) expires", () => {
    expect(leaseExpiryError({ timeout_seconds: 5 }, "pull", "lease expired")).toBe(timeoutError(5));
    expect(timeoutError(5)).toMatch(/Timed out.*timeout_seconds \(5 s\)/);
    expect(leaseExpiryError({}, "pull", "lease expired")).toBe("lease expired");
    expect(leaseExpiryError({ timeout_seconds: 5 }, "queue", "lease expired")).toBe("lease expired");
  });
});
