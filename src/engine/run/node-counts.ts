// A run seen per node of its graph, not per state: for each node, how many of its states are in each
// status. This is what keeps a view of a 100,000-branch run readable (and small): one line per node.
import { type NodeTemplate, STATE_STATUSES, type StateStatus, type Unites } from "../model";

/** identifier → status → number of states; statuses with no state may be absent. */
export type NodeCounts = Record<string, Partial<Record<StateStatus, number>>>;

/** Adds `more` into `into` (in place) and answers `into`. */
export function addNodeCounts(into: NodeCounts, more: NodeCounts): NodeCounts {
  for (const [identifier, byStatus] of Object.entries(more)) {
    const target = into[identifier] ?? {};
    into[identifier] = target;
    for (const [status, n] of Object.entries(byStatus) as [StateStatus, number][]) {
      target[status] = (target[status] ?? 0) + n;
    }
  }
  return into;
}

/** One node of a run's graph with its states counted by status (every status present, zeros included). */
export interface NodeProgress {
  identifier: string;
  node_name: string;
  namespace: string;
  next_nodes: string[];
  unites: Unites | null;
  states: Record<StateStatus, number>;
  total: number;
}

/** The graph's nodes, in template order, each with its counts. */
export function nodeProgress(nodes: readonly NodeTemplate[], counts: NodeCounts): NodeProgress[] {
  return nodes.map((node) => {
    const byStatus = counts[node.identifier] ?? {};
    const states = Object.fromEntries(STATE_STATUSES.map((s) => [s, byStatus[s] ?? 0])) as Record<
      StateStatus,
      number
    >;
    return {
      identifier: node.identifier,
      node_name: node.node_name,
      namespace: node.namespace,
      next_nodes: node.next_nodes ?? [],
      unites: node.unites,
      states,
      total: STATE_STATUSES.reduce((sum, s) => sum + states[s], 0),
    };
  });
}
