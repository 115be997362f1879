// What crosses Workers RPC to and from a namespace actor: node registrations, graph templates and the run
// index, and the narrow interface a runtime uses to register its nodes. Plain data only (structured clone).
import type {
  CronTrigger,
  NodeTemplate,
  RegisteredNode,
  RetryPolicy,
  StoreConfig,
  Transport,
  ValidationStatus,
} from "../engine/model";

export type { CronTrigger };

/** One entry of the `nodes` list of `PUT /v0/namespace/{ns}/nodes/`, as the Python runtime sends it. */
export interface NodeRegistration {
  name: string;
  inputs_schema: Record<string, unknown>;
  outputs_schema: Record<string, unknown>;
  secrets: string[];
}

/**
 * A registration as the namespace actor stores it: `transport` is our extension (push runtimes: "queue"),
 * and a `queue` node names the engine's queue producer binding its ready states go to.
 */
export type TransportedNodeRegistration = NodeRegistration & { transport: Transport; queue?: string };

export interface RegisterOptions {
  /** Leave a node that another runtime registered to it (how a runtime Worker re-registers on its own: `POST /register`, its cron). */
  keepOthers?: boolean;
}

/** The namespace actor as a runtime sees it. The namespace actor implements it. */
export interface NodeRegistryRpc {
  registerNodes(
    namespace: string,
    runtimeName: string,
    nodes: TransportedNodeRegistration[],
    options?: RegisterOptions,
  ): Promise<void>;
  /** A runtime served these nodes just now (a poll for them, a batch of their states); callers throttle. */
  nodesSeen(names: string[]): Promise<void>;
}

export interface RegisteredNodeRecord extends RegisteredNode {
  _id: string;
  created_at: string;
  updated_at: string;
  /** When a runtime last polled for this node or ran a batch of it (our extension); null: never. */
  last_seen_at?: string | null;
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

/** A cron schedule as GET graph shows it. */
export interface TriggerScheduleEntry {
  expression: string;
  /** ISO 8601 in UTC, with the `Z`. */
  next_fire_at: string;
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
  /** Recorded, and its start not yet confirmed (the namespace actor's alarm will start it). */
  starting?: true;
}

/** What a trigger answers: the run's id, the trigger's warnings, and whether an idempotency key replayed it. */
export interface TriggerAnswer {
  run_id: string;
  warnings?: string[];
  /** The answer of an earlier request with the same `Idempotency-Key`: no new run was started. */
  replayed: boolean;
}

export interface RunIndexPage {
  total: number;
  runs: RunIndexEntry[];
}
