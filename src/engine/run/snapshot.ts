// The graph a run executes: the template and the registry's word on each node, captured once when the run
// is triggered (design §4, graph versions), so re-upserting the graph never changes a run in flight.
// Defined as schemas because it is stored (in the run actor, and in a cron fire) and parsed when read back.
import { z } from "zod";
import { NodeTemplate, RetryPolicy, StoreConfig, Transport } from "../model";

/** What the run needs to know of each node it may create, captured at trigger time. */
export const NodeInfo = z.object({
  transport: Transport,
  /** For a `queue` node: the engine's queue producer binding of the runtime that registered it. */
  queue: z.string().optional(),
  /** Secret names the node declared when it was registered. */
  secrets: z.array(z.string()),
  /** Property names of the node's inputs schema: a child's inputs are rendered for these only. */
  inputFields: z.array(z.string()),
});
export type NodeInfo = z.infer<typeof NodeInfo>;

/** The graph as it was when the run was triggered. */
export const RunTemplateSnapshot = z.object({
  nodes: z.array(NodeTemplate),
  retry_policy: RetryPolicy,
  store_config: StoreConfig,
  /** name → ciphertext, exactly as the namespace actor stores it. */
  secrets: z.record(z.string(), z.string()),
  /** key `nodeKey(namespace, node_name)` → what the registry said of that node. */
  node_info: z.record(z.string(), NodeInfo),
});
export type RunTemplateSnapshot = z.infer<typeof RunTemplateSnapshot>;

/** The key of a node in `node_info` and in registry lookups: nodes are named per namespace. */
export const nodeKey = (namespace: string, nodeName: string): string => `${namespace}/${nodeName}`;
