// Read-only views of a run in Exosphere's wire shapes (spec §2.17, §2.18).
import { stateIdOf } from "../ids";
import { STATE_STATUSES, type StateStatus } from "../model";
import { isoNaive } from "../time";
import type { StateRow } from "./types";

export interface GraphNodeView {
  id: string;
  node_name: string;
  identifier: string;
  status: StateStatus;
  error: string | null;
}

export interface GraphStructureView {
  root_states: GraphNodeView[];
  graph_name: string;
  nodes: GraphNodeView[];
  edges: { source: string; target: string }[];
  node_count: number;
  edge_count: number;
  execution_summary: Record<StateStatus, number>;
}

/** Builds the run-graph view; `states` is every state of the run in the requested namespace. */
export function graphStructure(
  runKey: string,
  graphName: string,
  states: Iterable<StateRow>,
): GraphStructureView {
  const nodes: GraphNodeView[] = [];
  const roots: GraphNodeView[] = [];
  const edges: { source: string; target: string }[] = [];
  const seqs = new Set<number>();
  const lastParents: [number, number][] = [];
  const summary = Object.fromEntries(STATE_STATUSES.map((s) => [s, 0])) as Record<StateStatus, number>;
  for (const s of states) {
    const view = {
      id: stateIdOf(runKey, s.seq),
      node_name: s.node_name,
      identifier: s.identifier,
      status: s.status,
      error: s.error,
    };
    nodes.push(view);
    seqs.add(s.seq);
    summary[s.status] += 1;
    const direct = s.parents[s.parents.length - 1];
    if (direct) lastParents.push([direct[1], s.seq]);
    else roots.push(view);
  }
  for (const [parent, child] of lastParents) {
    // Exosphere draws an edge only from a parent that is among the listed states.
    if (seqs.has(parent)) edges.push({ source: stateIdOf(runKey, parent), target: stateIdOf(runKey, child) });
  }
  return {
    root_states: roots,
    graph_name: nodes.length > 0 ? graphName : "",
    nodes,
    edges,
    node_count: nodes.length,
    edge_count: edges.length,
    execution_summary: summary,
  };
}

/** The view of a run with no states (in that namespace), or of a run that does not exist, as Exosphere shows it. */
export const emptyGraphStructure = (): GraphStructureView => graphStructure("", "", []);

export interface NodeDetailsView {
  id: string;
  node_name: string;
  identifier: string;
  graph_name: string;
  run_id: string;
  status: StateStatus;
  inputs: Record<string, string>;
  outputs: Record<string, unknown>;
  error: string | null;
  parents: Record<string, string>;
  created_at: string;
  updated_at: string;
}

export function nodeDetails(runKey: string, runId: string, graphName: string, s: StateRow): NodeDetailsView {
  return {
    id: stateIdOf(runKey, s.seq),
    node_name: s.node_name,
    identifier: s.identifier,
    graph_name: graphName,
    run_id: runId,
    status: s.status,
    inputs: s.inputs,
    outputs: s.outputs,
    error: s.error,
    parents: Object.fromEntries(s.parents.map(([identifier, seq]) => [identifier, stateIdOf(runKey, seq)])),
    created_at: isoNaive(s.created_at),
    updated_at: isoNaive(s.updated_at),
  };
}
