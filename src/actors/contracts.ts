// The RPC contract between the API Worker and the run actor: what a trigger hands to a new run, and the
// shapes the run actor answers with. Plain data only (it crosses Workers RPC by structured clone).
import type { NodeTemplate, RetryPolicy, RunStatus, StoreConfig, Transport } from "../engine/model";

/** What the run needs to know of each node it may create, captured at trigger time. */
export interface NodeInfo {
  transport: Transport;
  /** Secret names the node declared when it was registered. */
  secrets: string[];
  /** Property names of the node's inputs schema: a child's inputs are rendered for these only. */
  inputFields: string[];
}

/** The graph as it was when the run was triggered (design §4, graph versions). */
export interface RunTemplateSnapshot {
  nodes: NodeTemplate[];
  retry_policy: RetryPolicy;
  store_config: StoreConfig;
  /** name → ciphertext, exactly as the namespace actor stores it. */
  secrets: Record<string, string>;
  /** key `${namespace}/${node_name}` → what the registry said of that node. */
  node_info: Record<string, NodeInfo>;
}

export interface RunBootstrap {
  run_id: string;
  namespace: string;
  graph_name: string;
  /** Exosphere's naive ISO timestamp of the trigger. */
  created_at: string;
  template: RunTemplateSnapshot;
  store: Record<string, string>;
  /** The root state's inputs, already resolved (trigger inputs + store placeholders). */
  root_inputs: Record<string, string>;
  /** Milliseconds to wait before the root state may be dispatched. */
  start_delay: number;
  /** What the trigger asked for that was ignored (e.g. inputs the root does not have); absent if none. */
  warnings?: string[];
}

export interface RunCounts {
  success_count: number;
  pending_count: number;
  errored_count: number;
  retried_count: number;
  total_count: number;
}

export interface RunSummary extends RunCounts {
  run_id: string;
  graph_name: string;
  status: RunStatus;
  created_at: string;
  /** The trigger's warnings (RunBootstrap.warnings); absent if none. */
  warnings?: string[];
}

export const nodeKey = (namespace: string, nodeName: string): string => `${namespace}/${nodeName}`;

/** A claimed state as `states/enqueue` hands it to a pull runtime (spec §2.9). */
export interface PulledState {
  state_id: string;
  node_name: string;
  identifier: string;
  inputs: Record<string, string>;
  created_at: string;
}
