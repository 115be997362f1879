// Per-node counts of a run's states by status, for the live run view. A run's states live in its run
// actor and, for wide fan-outs, in its branch shards: each actor counts its own rows with one GROUP BY,
// and the run actor adds up its shards' answers.
//
// Cost: the GROUP BY reads every state row of the actor (no index is kept for it, so the hot path pays
// nothing). The run actor therefore answers from a cache at most `nodeCountsMaxAge` old: any number of
// watchers of a run cost at most one count per second, and a big run's count (which reads every row) is
// taken less often, in proportion to its states. The summary beside the counts is always current, and a
// run that has just stopped (or started again, after a manual retry) is always counted afresh, so its final
// view is exact.

import type { RunNodesView, RunSummary } from "../contracts";
import { actorName } from "../engine/ids";
import { NODE_COUNTS_MAX_AGE_MS, NODE_COUNTS_MS_PER_STATE } from "../engine/limits";
import { addNodeCounts, type NodeCounts, nodeProgress } from "../engine/run/node-counts";
import type { RunMeta } from "./run-meta";
import { parseStatus } from "./run-parse";

/** What a run actor asks of its shards. */
export interface NodeCountsPeer {
  nodeCounts(): Promise<NodeCounts>;
}

/** What the counting needs of the actor it runs in. */
export interface NodeCountsHost {
  /** The actor instance: the key of its cache. */
  actor: object;
  sql: SqlStorage;
  /** null: nobody started a run here (an unused shard), so there is nothing to count. */
  meta: RunMeta | null;
  /** Whether this run actor handed branches to its shards. */
  shardsUsed: boolean;
  peer(name: string): NodeCountsPeer;
}

/** This actor's states, counted per node and status (fan-out clones kept as pages are SUCCESS states). */
export function localNodeCounts(sql: SqlStorage): NodeCounts {
  const counts: NodeCounts = {};
  const rows = sql.exec<{ identifier: string; status: string; n: number }>(
    `SELECT identifier, status, count(*) AS n FROM states GROUP BY identifier, status
     UNION ALL SELECT identifier, 'SUCCESS', sum(n) FROM clone_pages GROUP BY identifier`,
  );
  for (const row of rows) {
    const status = parseStatus(row.status, "node counts");
    const node = counts[row.identifier] ?? {};
    counts[row.identifier] = { ...node, [status]: (node[status] ?? 0) + row.n };
  }
  return counts;
}

/** The actor's counts; on a run actor whose branches went to shards, the whole run's. */
export async function countNodes(host: NodeCountsHost): Promise<NodeCounts> {
  const meta = host.meta;
  if (!meta) return {};
  const own = localNodeCounts(host.sql);
  if (meta.shard !== 0 || !host.shardsUsed) return own;
  const shards = await Promise.all(
    Array.from({ length: meta.shards.count }, (_, i) =>
      host.peer(actorName(meta.run_key, i + 1)).nodeCounts(),
    ),
  );
  for (const counts of shards) addNodeCounts(own, counts);
  return own;
}

/** How long a run of `states` states reuses its per-node counts. */
export function nodeCountsMaxAge(states: number): number {
  return Math.max(NODE_COUNTS_MAX_AGE_MS, states * NODE_COUNTS_MS_PER_STATE);
}

interface Cached {
  at: number;
  pending: boolean;
  counts: Promise<NodeCounts>;
}
const cache = new WeakMap<object, Cached>();

/** The run's counts, from the cache when it is fresh and was taken while the run was in the same state. */
function cachedCounts(host: NodeCountsHost, pending: boolean, states: number): Promise<NodeCounts> {
  const now = Date.now();
  const hit = cache.get(host.actor);
  if (hit && hit.pending === pending && now - hit.at < nodeCountsMaxAge(states)) return hit.counts;
  const counts = countNodes(host);
  cache.set(host.actor, { at: now, pending, counts });
  // A failed count is not kept: the next caller counts again.
  counts.catch(() => {
    if (cache.get(host.actor)?.counts === counts) cache.delete(host.actor);
  });
  return counts;
}

/** The live view of the run (summary and per-node counts), or null when the run is not in `namespace`. */
export async function runNodesView(
  host: NodeCountsHost,
  namespace: string,
  summary: RunSummary,
): Promise<RunNodesView | null> {
  const meta = host.meta;
  if (meta?.shard !== 0 || meta.namespace !== namespace) return null;
  const counts = await cachedCounts(host, summary.status === "PENDING", summary.total_count);
  return { ...summary, namespace: meta.namespace, nodes: nodeProgress(meta.template.nodes, counts) };
}
