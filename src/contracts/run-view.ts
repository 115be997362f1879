// The live view of one run, as the run actor answers it and the API serves it (our extension): the run's
// summary and, for each node of its graph, its states counted by status. Plain data only.
import type { NodeProgress } from "../engine/run/node-counts";
import type { RunSummary } from "./run";

export type { NodeCounts, NodeProgress } from "../engine/run/node-counts";

export interface RunNodesView extends RunSummary {
  namespace: string;
  /** The graph the run snapshotted at trigger time, in template order, with each node's counts. */
  nodes: NodeProgress[];
}
