// The run-graph view (spec §2.17), a page at a time. A run's states live in its run actor and, for wide
// fan-outs, in its branch shards; seqs sort the same way (the run actor's first, then shard 1's, …), so a
// page is the run actor's states after the cursor, then each shard's, and a cursor (a state id) says
// which actor to continue in. A run that fits one page answers exactly Exosphere's shape.
import { actorName, shardOfSeq, stateIdOf } from "../engine/ids";
import {
  emptyGraphStructure,
  type GraphStructureView,
  graphStructure,
  mergeGraphViews,
} from "../engine/run/views";
import { pageAt, pagesAfter } from "./run-clone-pages";
import type { RunMeta } from "./run-meta";
import { parseParents, parseStatus } from "./run-parse";

/** What the view asks of a shard: its own page. */
export interface GraphViewPeer {
  graphView(
    namespace: string,
    afterSeq: number,
    limit: number,
    identifier: string | null,
  ): Promise<GraphStructureView>;
}

export interface GraphViewHost {
  sql: SqlStorage;
  /** null: nobody started a run here, so there is nothing to show. */
  meta: RunMeta | null;
  /** Whether this run actor handed branches to its shards. */
  shardsUsed: boolean;
  peer(name: string): GraphViewPeer;
}

export interface GraphViewPage {
  namespace: string;
  /** List the states after this seq (0: from the start). */
  afterSeq: number;
  limit: number;
  /** Only this node's states, when given. */
  identifier: string | null;
}

/** This actor's page of the view; for a sharded run's run actor, continued through its shards. */
export async function runGraphView(host: GraphViewHost, page: GraphViewPage): Promise<GraphStructureView> {
  const { meta } = host;
  if (!meta) return emptyGraphStructure();
  if (meta.shard !== 0 || !host.shardsUsed) return localGraphView(host.sql, meta, page);
  const views: GraphStructureView[] = [];
  let remaining = page.limit;
  const from = shardOfSeq(page.afterSeq);
  let shard = from;
  for (; shard <= meta.shards.count && remaining > 0; shard++) {
    const afterSeq = shard === from ? page.afterSeq : 0;
    const view =
      shard === 0
        ? localGraphView(host.sql, meta, { ...page, afterSeq, limit: remaining })
        : await host
            .peer(actorName(meta.run_key, shard))
            .graphView(page.namespace, afterSeq, remaining, page.identifier);
    views.push(view);
    remaining -= view.node_count;
    if (view.next_cursor) break;
  }
  const merged = mergeGraphViews(meta.graph_name, views);
  const last = merged.nodes[merged.nodes.length - 1];
  // A full page with shards still to read: more may follow.
  if (!merged.next_cursor && remaining === 0 && shard <= meta.shards.count && last)
    merged.next_cursor = last.id;
  return merged;
}

/** A page of this actor's own states. */
function localGraphView(sql: SqlStorage, meta: RunMeta, page: GraphViewPage): GraphStructureView {
  const { namespace, afterSeq, limit, identifier } = page;
  const rows = sql
    .exec<{
      seq: number;
      node_name: string;
      identifier: string;
      status: string;
      error: string | null;
      parents: string;
    }>(
      `SELECT seq, node_name, identifier, status, error, parents FROM states
       WHERE namespace = ? AND seq > ? ${identifier === null ? "" : "AND identifier = ?"} ORDER BY seq LIMIT ?`,
      ...(identifier === null
        ? [namespace, afterSeq, limit + 1]
        : [namespace, afterSeq, identifier, limit + 1]),
    )
    .toArray();
  // Fan-out clones kept as pages (run-clone-pages.ts) are listed with the rows, in seq order.
  const clones: typeof rows = [];
  for (const p of pagesAfter(sql, afterSeq, { namespace, identifier })) {
    // Rows are in seq order: a page starting after the last row needed adds nothing.
    if (rows.length > limit && p.first_seq > (rows[limit]?.seq as number)) break;
    if (clones.length > limit) break;
    for (let seq = Math.max(p.first_seq, afterSeq + 1); seq < p.first_seq + p.n; seq++) {
      clones.push({
        seq,
        node_name: p.node_name,
        identifier: p.identifier,
        status: "SUCCESS",
        error: null,
        parents: p.parents,
      });
    }
  }
  if (clones.length > 0) {
    rows.push(...clones);
    rows.sort((a, b) => a.seq - b.seq);
    rows.length = Math.min(rows.length, limit + 1);
  }
  const more = rows.length > limit;
  const states = rows.slice(0, limit).map((r) => ({
    ...r,
    status: parseStatus(r.status),
    parents: parseParents(r.parents),
  }));
  // Exosphere draws an edge only from a listed parent: one on this page, or one an earlier page listed (in
  // the namespace, of the node asked for, at or before the cursor).
  const earlier = new Map<number, boolean>();
  const listedBefore = (seq: number) => {
    // A parent in another actor of the run (a shard's clone's parent is in the run actor): listed by an
    // earlier actor's pages.
    if (shardOfSeq(seq) !== meta.shard) return shardOfSeq(seq) < meta.shard;
    if (seq > afterSeq) return false;
    let listed = earlier.get(seq);
    if (listed === undefined) {
      const parent =
        sql
          .exec<{ identifier: string }>(
            "SELECT identifier FROM states WHERE seq = ? AND namespace = ?",
            seq,
            namespace,
          )
          .toArray()[0] ?? pageAt(sql, seq);
      listed =
        parent !== undefined &&
        (!("namespace" in parent) || parent.namespace === namespace) &&
        (identifier === null || parent.identifier === identifier);
      earlier.set(seq, listed);
    }
    return listed;
  };
  const view = graphStructure(meta.run_key, meta.graph_name, states, listedBefore);
  const last = states[states.length - 1];
  if (more && last) view.next_cursor = stateIdOf(meta.run_key, last.seq);
  return view;
}
