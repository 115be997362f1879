// Per-node counts of a run: adding up its actors' answers, the view per node in template order, and the
// run actor's one-second cache (which must never hide that a run stopped or started again).
import { afterEach, describe, expect, it, vi } from "vitest";
import type { RunMeta } from "../../src/actors/run-meta";
import { type NodeCountsHost, runNodesView } from "../../src/actors/run-node-counts";
import type { RunSummary } from "../../src/contracts";
import { NODE_COUNTS_MAX_AGE_MS, NODE_COUNTS_MS_PER_STATE } from "../../src/engine/limits";
import { DEFAULT_RETRY_POLICY, DEFAULT_STORE_CONFIG } from "../../src/engine/model";
import { addNodeCounts, nodeProgress } from "../../src/engine/run/node-counts";

const nodes = [
  {
    node_name: "Split",
    namespace: "ns",
    identifier: "split",
    inputs: {},
    next_nodes: ["work"],
    unites: null,
  },
  { node_name: "Work", namespace: "ns", identifier: "work", inputs: {}, next_nodes: null, unites: null },
];

describe("addNodeCounts and nodeProgress", () => {
  it("adds actors' counts per node and status, and lists every node with every status", () => {
    const total = addNodeCounts({ split: { SUCCESS: 1 } }, { work: { QUEUED: 2, SUCCESS: 1 } });
    addNodeCounts(total, { work: { SUCCESS: 3, ERRORED: 1 } });
    expect(total).toEqual({ split: { SUCCESS: 1 }, work: { QUEUED: 2, SUCCESS: 4, ERRORED: 1 } });
    const [split, work] = nodeProgress(nodes, total);
    expect(split).toMatchObject({ identifier: "split", next_nodes: ["work"], total: 1 });
    expect(work).toMatchObject({ identifier: "work", next_nodes: [], unites: null, total: 7 });
    expect(work?.states).toEqual({
      CREATED: 0,
      QUEUED: 2,
      EXECUTED: 0,
      ERRORED: 1,
      NEXT_CREATED_ERROR: 0,
      SUCCESS: 4,
      PRUNED: 0,
      RETRY_CREATED: 0,
      CANCELLED: 0,
    });
  });
});

const meta: RunMeta = {
  run_id: "r",
  run_key: "0123456789abcdef",
  namespace: "ns",
  graph_name: "g",
  created_at: "2026-01-01T00:00:00",
  template: {
    nodes,
    retry_policy: DEFAULT_RETRY_POLICY,
    store_config: DEFAULT_STORE_CONFIG,
    secrets: {},
    node_info: {},
  },
  shard: 0,
  shards: { count: 2, from: 1 },
};

/** A run actor whose own table holds `rows`, with two shards answering `shardCounts`. */
function host(rows: { identifier: string; status: string; n: number }[]) {
  const scans = { own: 0, shards: [] as string[] };
  const h: NodeCountsHost = {
    actor: {},
    sql: {
      exec: () => {
        scans.own += 1;
        return rows;
      },
    } as unknown as SqlStorage,
    meta,
    shardsUsed: true,
    peer: (name) => ({
      nodeCounts: async () => {
        scans.shards.push(name);
        return { work: { SUCCESS: 10 } };
      },
    }),
  };
  return { h, scans };
}

const summary = (status: RunSummary["status"], total = 0): RunSummary => ({
  run_id: "r",
  graph_name: "g",
  status,
  created_at: "2026-01-01T00:00:00",
  success_count: 0,
  pending_count: 0,
  errored_count: 0,
  retried_count: 0,
  total_count: total,
});

describe("runNodesView", () => {
  afterEach(() => vi.useRealTimers());

  it("counts the run actor's rows and each shard's, once a second whoever asks", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const { h, scans } = host([{ identifier: "split", status: "SUCCESS", n: 1 }]);
    const first = await runNodesView(h, "ns", summary("PENDING"));
    expect(first?.nodes.map((n) => [n.identifier, n.states.SUCCESS])).toEqual([
      ["split", 1],
      ["work", 20],
    ]);
    expect(scans.shards).toEqual(["0123456789abcdef:1", "0123456789abcdef:2"]);
    await runNodesView(h, "ns", summary("PENDING"));
    expect(scans.own).toBe(1);
    vi.setSystemTime(1_000_000 + NODE_COUNTS_MAX_AGE_MS);
    await runNodesView(h, "ns", summary("PENDING"));
    expect(scans.own).toBe(2);
  });

  it("counts a big run less often, in proportion to its states, while its summary stays current", async () => {
    vi.useFakeTimers({ now: 3_000_000 });
    const { h, scans } = host([]);
    const states = 2_000_001; // a million branches: counted every 40 s
    const age = states * NODE_COUNTS_MS_PER_STATE;
    expect(age).toBeGreaterThan(30 * NODE_COUNTS_MAX_AGE_MS);
    await runNodesView(h, "ns", summary("PENDING", states));
    vi.setSystemTime(3_000_000 + NODE_COUNTS_MAX_AGE_MS);
    const later = await runNodesView(h, "ns", { ...summary("PENDING", states), success_count: 7 });
    expect(scans.own).toBe(1);
    expect(later?.success_count).toBe(7);
    vi.setSystemTime(3_000_000 + Math.ceil(age));
    await runNodesView(h, "ns", summary("PENDING", states));
    expect(scans.own).toBe(2);
  });

  it("counts afresh as soon as the run stopped or started again", async () => {
    vi.useFakeTimers({ now: 2_000_000 });
    const { h, scans } = host([]);
    await runNodesView(h, "ns", summary("PENDING"));
    await runNodesView(h, "ns", summary("SUCCESS"));
    await runNodesView(h, "ns", summary("SUCCESS"));
    await runNodesView(h, "ns", summary("PENDING"));
    expect(scans.own).toBe(3);
  });

  it("answers null for another namespace, and shows the summary with the nodes", async () => {
    const { h } = host([]);
    expect(await runNodesView(h, "other", summary("PENDING"))).toBeNull();
    expect(await runNodesView(h, "ns", summary("FAILED"))).toMatchObject({
      namespace: "ns",
      status: "FAILED",
    });
  });
});
