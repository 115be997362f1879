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
  /**
   * Our extension, present only when the answer is one page of a larger run: pass it back as `cursor` for
   * the next page. A run that fits one page answers exactly Exosphere's shape.
   */
  next_cursor?: string;
}

/** What the run-graph view needs of a state. */
export type GraphStateRow = Pick<
  StateRow,
  "seq" | "node_name" | "identifier" | "status" | "error" | "parents"
>;

/**
 * Builds the run-graph view of `states` (the run's states in the requested namespace, in seq order, or one
 * page of them). `listedBefore(seq)` says whether a parent that is not among `states` was listed on an
 * earlier page (absent: nothing was), so the pages' edges add up to the whole run's.
 */
export function graphStructure(
  runKey: string,
  graphName: string,
  states: Iterable<GraphStateRow>,
  listedBefore: (seq: number) => boolean = () => false,
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
    if (seqs.has(parent) || listedBefore(parent))
      edges.push({ source: stateIdOf(runKey, parent), target: stateIdOf(runKey, child) });
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

/** Concatenates consecutive pages of one run's graph view (from its run actor and then its shards). */
export function mergeGraphViews(graphName: string, views: GraphStructureView[]): GraphStructureView {
  const summary = Object.fromEntries(STATE_STATUSES.map((s) => [s, 0])) as Record<StateStatus, number>;
  const merged: GraphStructureView = {
    root_states: views.flatMap((v) => v.root_states),
    graph_name: "",
    nodes: views.flatMap((v) => v.nodes),
    edges: views.flatMap((v) => v.edges),
    node_count: 0,
    edge_count: 0,
    execution_summary: summary,
  };
  for (const v of views) for (const s of STATE_STATUSES) summary[s] += v.execution_summary[s];
  merged.node_count = merged.nodes.length;
  merged.edge_count = merged.edges.length;
  merged.graph_name = merged.nodes.length > 0 ? graphName : "";
  const cursor = views[views.length - 1]?.next_cursor;
  if (cursor) merged.next_cursor = cursor;
  return merged;
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

/** A state's details with its inputs apart, as their stored JSON text in parts (see nodeDetailsText). */
export interface NodeDetailsParts {
  details: Omit<NodeDetailsView, "inputs">;
  /** Concatenated, the JSON text of the inputs: a large value is never parsed to be shown. */
  inputs: string[];
}

export function nodeDetails(
  runKey: string,
  runId: string,
  graphName: string,
  s: StateRow,
  inputs: string[],
): NodeDetailsParts {
  return {
    details: {
      id: stateIdOf(runKey, s.seq),
      node_name: s.node_name,
      identifier: s.identifier,
      graph_name: graphName,
      run_id: runId,
      status: s.status,
      outputs: s.outputs,
      error: s.error,
      parents: Object.fromEntries(s.parents.map(([identifier, seq]) => [identifier, stateIdOf(runKey, seq)])),
      created_at: isoNaive(s.created_at),
      updated_at: isoNaive(s.updated_at),
    },
    inputs,
  };
}

/**
 * The NodeDetailsView of `parts` (and `extra` fields after its own) as JSON text in parts, in Exosphere's
 * field order: the inputs' parts as they are, so a response can stream a state of megabytes without
 * holding it as one string.
 */
export function nodeDetailsText(parts: NodeDetailsParts, extra: Record<string, unknown> = {}): string[] {
  const { id, node_name, identifier, graph_name, run_id, status, ...rest } = parts.details;
  return [
    JSON.stringify({ id, node_name, identifier, graph_name, run_id, status }).slice(0, -1),
    ',"inputs":',
    ...parts.inputs,
    `,${JSON.stringify({ ...rest, ...extra }).slice(1)}`,
  ];
}
