// The graph a run executes: the template and the registry's word on each node, captured once when the run
// is triggered (design §4, graph versions), so re-upserting the graph never changes a run in flight.
import type { NodeTemplate, RetryPolicy, StoreConfig, Transport } from "../model";

/** What the run needs to know of each node it may create, captured at trigger time. */
export interface NodeInfo {
  transport: Transport;
  /** Secret names the node declared when it was registered. */
  secrets: string[];
  /** Property names of the node's inputs schema: a child's inputs are rendered for these only. */
  inputFields: string[];
}

/** The graph as it was when the run was triggered. */
export interface RunTemplateSnapshot {
  nodes: NodeTemplate[];
  retry_policy: RetryPolicy;
  store_config: StoreConfig;
  /** name → ciphertext, exactly as the namespace actor stores it. */
  secrets: Record<string, string>;
  /** key `nodeKey(namespace, node_name)` → what the registry said of that node. */
  node_info: Record<string, NodeInfo>;
}

/** The key of a node in `node_info` and in registry lookups: nodes are named per namespace. */
export const nodeKey = (namespace: string, nodeName: string): string => `${namespace}/${nodeName}`;
