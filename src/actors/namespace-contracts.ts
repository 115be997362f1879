// What the namespace actor takes and answers over RPC, and the rows it stores.
import type {
  CronTrigger,
  NodeTemplate,
  RegisteredNode,
  RetryPolicy,
  StoreConfig,
  Transport,
  ValidationStatus,
} from "../engine/model";
import type { TriggerScheduleEntry } from "./namespace-cron";

/** A node as a runtime registers it; `transport` is our extension (push runtimes say "queue"). */
export interface NodeRegistration {
  name: string;
  inputs_schema: Record<string, unknown>;
  outputs_schema: Record<string, unknown>;
  secrets: string[];
  transport: Transport;
}

export interface RegisteredNodeRecord extends RegisteredNode {
  _id: string;
  created_at: string;
  updated_at: string;
}

/** A template as the upsert hands it over: validated at tier 1, secrets already encrypted. */
export interface GraphTemplateInput {
  nodes: NodeTemplate[];
  /** name → ciphertext. */
  secrets: Record<string, string>;
  retry_policy: RetryPolicy;
  store_config: StoreConfig;
  triggers: CronTrigger[];
}

/** A stored template as the API may show it: secret names only, never ciphertexts. */
export interface GraphTemplateRecord {
  _id: string;
  name: string;
  namespace: string;
  nodes: NodeTemplate[];
  secret_names: string[];
  retry_policy: RetryPolicy;
  store_config: StoreConfig;
  triggers: CronTrigger[];
  /** The graph's armed cron schedules (empty unless VALID): our extension, see docs/control-features.md. */
  trigger_schedule: TriggerScheduleEntry[];
  validation_status: ValidationStatus;
  validation_errors: string[];
  created_at: string;
  updated_at: string;
}

export interface RunIndexEntry {
  run_id: string;
  graph_name: string;
  created_at: string;
}

export interface RunIndexPage {
  total: number;
  runs: RunIndexEntry[];
}

export type NodeRow = {
  name: string;
  id: string;
  runtime_name: string;
  inputs_schema: string;
  outputs_schema: string;
  secrets: string;
  transport: string;
  created_at: number;
  updated_at: number;
};

export type GraphRow = {
  name: string;
  id: string;
  nodes: string;
  secrets: string;
  retry_policy: string;
  store_config: string;
  triggers: string;
  validation_status: string;
  validation_errors: string;
  created_at: number;
  updated_at: number;
};
