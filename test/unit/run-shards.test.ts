// Paged fan-out reports and branch shards in the platform-free core: one run actor engine and K shard
// engines over memory stores, joined by a simulated network that delays, reorders (across shards) and
// repeats spawn batches and settle deltas, with runtimes that report fan-outs in random pages and resend
// pages after a simulated crash. Randomized over seeds, shard counts and page sizes; every run must end
// exactly as it would on one actor.
import { describe, expect, it } from "vitest";
import { SPAWN_BATCH_CHARS } from "../../src/engine/limits";
import { DEFAULT_RETRY_POLICY, type NodeTemplate } from "../../src/engine/model";
import { runCounts, runStatus } from "../../src/engine/run/counts";
import { RunEngine } from "../../src/engine/run/engine";
import { GraphIndex } from "../../src/engine/run/graph-index";
import { subtreePrefix } from "../../src/engine/run/lineage";
import { MemoryRunStore } from "../../src/engine/run/memory-store";
import { mergeSettles } from "../../src/engine/run/settle";
import type { NodeInfo, RunTemplateSnapshot } from "../../src/engine/run/snapshot";
import type { SettleDelta, SpawnBatch, StateRow } from "../../src/engine/run/types";
import { refKey } from "../../src/engine/template/placeholders";
import { node } from "./run-harness";

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// p fans out to `width` outputs; each q fans out again to (i % 3) outputs; r runs per q output; u2 unites
// each q execution (reading r's values), u unites p (reading q's and u2's values).
const graph: NodeTemplate[] = [
  node("p", { n: "x" }, ["q"]),
  node("q", { v: "${{ p.outputs.v }}" }, ["r"]),
  node("r", { v: "${{ q.outputs.v }}" }, ["u2"]),
  node("u2", { all: "${{ r.outputs.v }}" }, ["u"], { identifier: "q", strategy: "ALL_DONE" }),
  node("u", { qs: "${{ q.outputs.v }}", inner: "${{ u2.outputs.w }}" }, null, {
    identifier: "p",
    strategy: "ALL_SUCCESS",
  }),
];

// The same graph with run control: u2 is ALL_SUCCESS tolerating one failed r per q execution (r fails
// for every second output of q), so every u2 fires over the successful r only and the run succeeds.
const tolerantGraph: NodeTemplate[] = graph.map((n) =>
  n.identifier === "u2"
    ? { ...n, unites: { identifier: "q", strategy: "ALL_SUCCESS", tolerated_failure_count: 1 } }
    : n,
);
/** r fails for the second output of its q execution (in the tolerant variant). */
const failsInTolerant = (state: StateRow) =>
  state.identifier === "r" && state.inputs.v?.endsWith(".1") === true;

function snapshot(nodes: NodeTemplate[] = graph): RunTemplateSnapshot {
  const node_info: Record<string, NodeInfo> = {};
  for (const n of nodes) {
    node_info[`t/${n.node_name}`] = { transport: "queue", secrets: [], inputFields: Object.keys(n.inputs) };
  }
  return {
    nodes,
    retry_policy: { ...DEFAULT_RETRY_POLICY, max_retries: 0 },
    store_config: { required_keys: [], default_values: {} },
    secrets: {},
    node_info,
  };
}

/** What one execution of each node outputs (deterministic, so the expected unite inputs are known). */
function outputsOf(state: StateRow, width: number): Record<string, unknown>[] {
  switch (state.identifier) {
    case "p":
      return Array.from({ length: width }, (_, i) => ({ v: String(i) }));
    case "q": {
      const i = Number(state.inputs.v);
      return Array.from({ length: i % 3 }, (_, j) => ({ v: `${i}.${j}` }));
    }
    case "r":
      return [{ v: state.inputs.v }];
    case "u2":
      return [{ w: `${(JSON.parse(state.inputs.all ?? "[]") as string[]).length}` }];
    default:
      return [{ done: "yes" }];
  }
}

/** One actor's engine over a memory store, with the run's shard plan. */
function actorEngine(
  shard: number,
  shards: { count: number; from: number },
  newFanoutId: () => string,
  nodes: NodeTemplate[] = graph,
) {
  const snap = snapshot(nodes);
  const store = new MemoryRunStore({}, shard);
  const engine = new RunEngine(store, new GraphIndex(snap), {
    runKey: "0123456789abcdef",
    namespace: "t",
    graphName: "g",
    retryPolicy: snap.retry_policy,
    newFanoutId,
    shard,
    shards,
  });
  return { store, engine };
}

/** `pages`: the outputs one page carries, from..to at random. */
function simulate(
  seed: number,
  shards: number,
  from: number,
  width: number,
  tolerant = false,
  pages = { from: 1, to: 4 },
) {
  const random = rng(seed);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)] as T;
  let fanout = 0;
  const actors = Array.from({ length: shards + 1 }, (_, shard) => {
    const { store, engine } = actorEngine(
      shard,
      { count: shards, from },
      () => `f${++fanout}`,
      tolerant ? tolerantGraph : graph,
    );
    return { shard, store, engine, adopted: new Set<number>(), settled: 0 };
  });
  const run = actors[0];
  if (!run) throw new Error("no run actor");
  // The network: spawn batches (any order, may repeat) and per-shard FIFO settle deltas (may repeat).
  let batchId = 0;
  const spawns: { id: number; shard: number; batch: SpawnBatch }[] = [];
  const settles: { shard: number; id: number; delta: SettleDelta }[][] = actors.map(() => []);
  const settleIds = actors.map(() => 0);
  const now = 1_000_000;
  /** Batches the run actor counted QUEUED (wide: it expects their children born claimed). */
  let queuedBatches = 0;

  /** After an engine call on an actor: what it wrote to its outboxes goes on the network. */
  const afterCall = (a: (typeof actors)[number]) => {
    // As the actors send them: the batch's text, parsed by the shard.
    for (const f of a.store.forwarded.splice(0)) {
      const batch: SpawnBatch = JSON.parse(f.text ?? JSON.stringify(f.batch));
      if (batch.queued) queuedBatches += 1;
      spawns.push({ id: ++batchId, shard: f.shard, batch });
    }
    if (a.shard === 0) return;
    const counts = Object.fromEntries([...a.store.counts].filter(([, n]) => n !== 0));
    a.store.counts.clear();
    const barriers = a.store.remoteDeltas.splice(0);
    const tolerated = a.store.tolerated;
    a.store.tolerated = 0;
    if (Object.keys(counts).length > 0 || barriers.length > 0 || tolerated > 0) {
      settleIds[a.shard] = (settleIds[a.shard] ?? 0) + 1;
      const delta: SettleDelta = { counts, barriers, ...(tolerated > 0 ? { tolerated } : {}) };
      settles[a.shard]?.push({ shard: a.shard, id: settleIds[a.shard] ?? 0, delta });
    }
  };

  /** Pages still to send for executions a runtime is reporting, keyed by state. */
  const reporting = new Map<
    string,
    { a: (typeof actors)[number]; seq: number; outputs: Record<string, unknown>[]; at: number }
  >();

  run.engine.start({ n: "x" }, 0, now);
  afterCall(run);

  const step = (): boolean => {
    const moves: (() => void)[] = [];
    for (const a of actors) {
      const due = [...a.store.readyAt].filter(([, t]) => t <= now).map(([s]) => s);
      if (due.length > 0) {
        moves.push(() => {
          const seq = pick(due);
          a.store.readyAt.delete(seq);
          for (const state of a.engine.claim([seq], now)) {
            if (tolerant && failsInTolerant(state)) {
              a.engine.apply([{ type: "errored", seq: state.seq, error: "boom" }], now);
              continue;
            }
            reporting.set(`${a.shard}:${state.seq}`, {
              a,
              seq: state.seq,
              outputs: outputsOf(state, width),
              at: 0,
            });
          }
          afterCall(a);
        });
      }
    }
    for (const [key, r] of reporting) {
      moves.push(() => {
        if (random() < 0.1 && r.at > 0) {
          r.at = 0; // the runtime died between pages; the queue delivers again and it starts over
          return;
        }
        const size = pages.from + Math.floor(random() * (pages.to - pages.from + 1));
        const outputs = r.outputs.slice(r.at, r.at + size);
        const more = r.at + size < r.outputs.length;
        const [outcome] = r.a.engine.apply(
          [{ type: "executed", seq: r.seq, outputs, page: { offset: r.at, more } }],
          now,
        );
        expect(outcome?.applied || outcome?.reason === "duplicate_page").toBe(true);
        afterCall(r.a);
        r.at += size;
        if (!more) reporting.delete(key);
      });
    }
    if (spawns.length > 0) {
      moves.push(() => {
        const at = Math.floor(random() * spawns.length);
        const s = spawns[at];
        if (!s) return;
        if (random() < 0.7) spawns.splice(at, 1); // otherwise it is delivered again later
        const target = actors[s.shard];
        if (!target || target.adopted.has(s.id)) return;
        target.adopted.add(s.id);
        target.engine.adopt(s.batch, now);
        afterCall(target);
      });
    }
    for (const queue of settles) {
      if (queue.length === 0) continue;
      moves.push(() => {
        // Several consecutive deltas merged into one message, as the shard sends them.
        const n = 1 + Math.floor(random() * queue.length);
        const batch = queue.slice(0, n);
        const first = batch[0];
        const last = batch[batch.length - 1];
        const from = first ? actors[first.shard] : undefined;
        if (!first || !last || !from) return;
        if (first.id <= from.settled) {
          // A range sent again changes nothing; the receiver answers how far it applied and the sender
          // drops what is confirmed.
          while (queue[0] && queue[0].id <= from.settled) queue.shift();
          return;
        }
        // Otherwise the confirmation may be lost: the sender then sends the range again.
        if (random() < 0.8) queue.splice(0, n);
        run.engine.applySettle(mergeSettles(batch.map((b) => b.delta)), now);
        from.settled = last.id;
        afterCall(run);
      });
    }
    for (const seq of run.store.gathers) {
      moves.push(() => {
        run.store.gathers.delete(seq);
        const unite = run.store.getState(seq);
        const link = unite?.parents[unite.parents.length - 1];
        const head = link ? run.store.getState(link[1]) : undefined;
        if (!unite || !head) throw new Error("gathering unite without its head");
        const arrays = new Map<string, string>();
        for (const ref of run.engine.gatherRefs(unite.identifier)) {
          const all = actors
            .flatMap((a) => [...a.store.states.values()])
            .filter((s) => s.identifier === ref.identifier && s.status === "SUCCESS")
            .filter((s) => s.lineage.startsWith(subtreePrefix(head)) && ref.field in s.outputs)
            .sort((x, y) => (x.lineage < y.lineage ? -1 : x.lineage > y.lineage ? 1 : x.seq - y.seq));
          arrays.set(
            refKey({ kind: "output", identifier: ref.identifier, field: ref.field }),
            JSON.stringify(all.map((s) => s.outputs[ref.field])),
          );
        }
        run.engine.completeGather(seq, arrays, now);
        afterCall(run);
      });
    }
    if (moves.length === 0) return false;
    pick(moves)();
    return true;
  };
  for (let i = 0; i < 200_000 && step(); i++) {
    // until nothing is left to do
  }
  const all = actors.flatMap((a) => [...a.store.states.values()]);
  return { run, actors, all, queuedBatches };
}

describe("paged fan-out over branch shards (randomized)", () => {
  const wide = Array.from({ length: 6 }, (_, k) => [60 + k, 1 + (k % 2), 1, 150 + 40 * k] as const);
  it.each([
    ...Array.from({ length: 60 }, (_, seed) => [seed, seed % 4, 1 + (seed % 3), 5 + (seed % 9)] as const),
    ...wide,
  ])(
    "seed %i: %i shards from output %i, width %i: exact counts, each unite once, in fan-out order",
    (seed, shards, from, width) => {
      const { run, all, queuedBatches } = simulate(
        seed,
        shards,
        from,
        width,
        false,
        width >= 150 ? { from: Math.ceil(width * 0.7), to: width } : undefined,
      );
      // A batch wider than a report's eager share is counted QUEUED by the run actor; these shards write
      // its children CREATED (their store claims none at birth), so their counts must move back.
      if (width >= 150) expect(queuedBatches).toBeGreaterThan(0);
      // Every state settled, and the run actor's counts are exactly the states' statuses over all actors.
      expect(all.filter((s) => !["SUCCESS", "PRUNED"].includes(s.status))).toEqual([]);
      const byStatus: Record<string, number> = {};
      for (const s of all) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
      expect(Object.fromEntries([...run.store.counts].filter(([, n]) => n !== 0))).toEqual(byStatus);
      expect(runStatus(runCounts(Object.fromEntries(run.store.counts)))).toBe("SUCCESS");

      // One u2 per q execution, one u in all; u read every branch in fan-out order.
      const widths = Array.from({ length: width }, (_, i) => i % 3);
      // q's executions keep one state each even with no outputs (zero width), clones carry the rest.
      expect(all.filter((s) => s.identifier === "q")).toHaveLength(
        widths.reduce((x, w) => x + Math.max(1, w), 0),
      );
      expect(all.filter((s) => s.identifier === "u2")).toHaveLength(width);
      const units = all.filter((s) => s.identifier === "u");
      expect(units).toHaveLength(1);
      const u = units[0];
      // An execution with no outputs contributes no value.
      expect(JSON.parse(u?.inputs.qs ?? "")).toEqual(
        widths.flatMap((w, i) => Array.from({ length: w }, (_, j) => `${i}.${j}`)),
      );
      expect(JSON.parse(u?.inputs.inner ?? "")).toEqual(
        Array.from({ length: width }, (_, i) => String(i % 3)),
      );
      const rs = all.filter((s) => s.identifier === "r");
      expect(rs).toHaveLength(widths.reduce((x, y) => x + y, 0));
    },
  );
});

describe("tolerated failures over branch shards (randomized)", () => {
  it.each(
    Array.from({ length: 24 }, (_, seed) => [seed, 1 + (seed % 3), 1 + (seed % 2), 5 + (seed % 7)] as const),
  )(
    "seed %i: %i shards from output %i, width %i: nested unites tolerate, the run succeeds with exact counts",
    (seed, shards, from, width) => {
      const { run, all } = simulate(100 + seed, shards, from, width, true);
      const byStatus: Record<string, number> = {};
      for (const s of all) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
      expect(Object.fromEntries([...run.store.counts].filter(([, n]) => n !== 0))).toEqual(byStatus);
      // One r fails in every q execution of width 2 (i % 3 === 2): each u2 tolerates it.
      const failures = Array.from({ length: width }, (_, i) => i).filter((i) => i % 3 === 2).length;
      expect(byStatus.ERRORED ?? 0).toBe(failures);
      expect(run.store.tolerated).toBe(failures);
      expect(all.filter((s) => s.identifier === "u2").map((s) => s.status)).toEqual(
        Array(width).fill("SUCCESS"),
      );
      const u = all.filter((s) => s.identifier === "u");
      expect(u.map((s) => s.status)).toEqual(["SUCCESS"]);
      // u2 read only its successful r: one value per q output but the failed one.
      expect(JSON.parse(u[0]?.inputs.inner ?? "")).toEqual(
        Array.from({ length: width }, (_, i) => String(Math.min(1, i % 3))),
      );
      expect(
        runStatus(runCounts(Object.fromEntries(run.store.counts)), { tolerated: run.store.tolerated }),
      ).toBe("SUCCESS");
    },
  );
});

describe("batches of branches handed to shards", () => {
  it("splits a page's branches for one shard into batches bounded in size", () => {
    let fanout = 0;
    const { store, engine } = actorEngine(0, { count: 1, from: 1 }, () => `f${++fanout}`);
    engine.start({ n: "x" }, 0, 1);
    const [p] = engine.claim([...store.readyAt.keys()], 1);
    const heavy = "x".repeat(100_000);
    const outputs = Array.from({ length: 20 }, (_, i) => ({ v: `${i}${heavy}` }));
    engine.apply([{ type: "executed", seq: p?.seq ?? 0, outputs }], 1);
    const batches = store.forwarded.map((f) => f.batch);
    for (const { batch, text } of store.forwarded) {
      // The text built member by member is the batch's JSON, exactly.
      expect(text).toBe(JSON.stringify(batch));
      expect(JSON.stringify(batch).length).toBeLessThan(SPAWN_BATCH_CHARS + 250_000);
    }
    expect(batches.length).toBeGreaterThanOrEqual(Math.ceil((19 * 200_000) / SPAWN_BATCH_CHARS));
    expect(batches.flatMap((b) => b.members.map((m) => m.fanout_index))).toEqual(
      Array.from({ length: 19 }, (_, i) => i + 1),
    );
  });
});
