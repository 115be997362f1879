import { z } from "zod";

// Status vocabularies, defined once with Exosphere's exact wire strings.

export const StateStatus = z.enum([
  "CREATED",
  "QUEUED",
  "EXECUTED",
  "ERRORED",
  "NEXT_CREATED_ERROR",
  "SUCCESS",
  "PRUNED",
  "RETRY_CREATED",
  // Our extension (run control): a state that was waiting or running when its run was cancelled.
  "CANCELLED",
]);
export type StateStatus = z.infer<typeof StateStatus>;
export const STATE_STATUSES = StateStatus.options;

export const UnitesStrategy = z.enum(["ALL_SUCCESS", "ALL_DONE"]);
export type UnitesStrategy = z.infer<typeof UnitesStrategy>;

export const RetryStrategy = z.enum([
  "EXPONENTIAL",
  "EXPONENTIAL_FULL_JITTER",
  "EXPONENTIAL_EQUAL_JITTER",
  "LINEAR",
  "LINEAR_FULL_JITTER",
  "LINEAR_EQUAL_JITTER",
  "FIXED",
  "FIXED_FULL_JITTER",
  "FIXED_EQUAL_JITTER",
]);
export type RetryStrategy = z.infer<typeof RetryStrategy>;

export const ValidationStatus = z.enum(["VALID", "INVALID", "PENDING", "ONGOING"]);
export type ValidationStatus = z.infer<typeof ValidationStatus>;

export const RunStatus = z.enum(["SUCCESS", "PENDING", "FAILED", "CANCELLED"]);
export type RunStatus = z.infer<typeof RunStatus>;

/** How ready states of a node reach its runtime. */
export const Transport = z.enum(["queue", "pull"]);
export type Transport = z.infer<typeof Transport>;

// The shapes of a graph template as the engine keeps it (already validated and normalised by the
// request schemas in template/request-schema.ts). Defined as schemas so that data read back from storage
// is parsed against the same definition its type comes from.

export const Unites = z.object({
  identifier: z.string(),
  strategy: UnitesStrategy,
  /** Our extension (run control): errored subtree states an ALL_SUCCESS barrier tolerates. */
  tolerated_failure_count: z.number().optional(),
  /** Our extension: the same, as a percentage (0–100) of the target execution's outputs. */
  tolerated_failure_percentage: z.number().optional(),
});
export type Unites = z.infer<typeof Unites>;

export const NodeTemplate = z.object({
  node_name: z.string(),
  namespace: z.string(),
  identifier: z.string(),
  inputs: z.record(z.string(), z.unknown()),
  next_nodes: z.array(z.string()).nullable(),
  unites: Unites.nullable(),
  /** Our extension (run control): at most this many states of the node QUEUED at once, per run. */
  max_concurrency: z.number().optional(),
  /** Our extension (run control): a state of the node running longer than this is errored. */
  timeout_seconds: z.number().optional(),
});
export type NodeTemplate = z.infer<typeof NodeTemplate>;

export const RetryPolicy = z.object({
  max_retries: z.number(),
  strategy: RetryStrategy,
  backoff_factor: z.number(),
  exponent: z.number(),
  max_delay: z.number().nullable(),
});
export type RetryPolicy = z.infer<typeof RetryPolicy>;

export const StoreConfig = z.object({
  required_keys: z.array(z.string()),
  default_values: z.record(z.string(), z.string()),
});
export type StoreConfig = z.infer<typeof StoreConfig>;

/** A graph's cron trigger, as the upsert body carries it and as it is stored. */
export const CronTrigger = z.object({ type: z.literal("CRON"), value: z.object({ expression: z.string() }) });
export type CronTrigger = z.infer<typeof CronTrigger>;

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  max_retries: 3,
  strategy: "EXPONENTIAL",
  backoff_factor: 2000,
  exponent: 2,
  max_delay: null,
};

export const DEFAULT_STORE_CONFIG: StoreConfig = { required_keys: [], default_values: {} };

/** A node as a runtime registered it (Exosphere's RegisteredNode, plus how it is dispatched). */
export interface RegisteredNode {
  name: string;
  namespace: string;
  runtime_name: string;
  runtime_namespace: string;
  inputs_schema: Record<string, unknown>;
  outputs_schema: Record<string, unknown>;
  secrets: string[];
  transport: Transport;
  /** For `queue` nodes: the engine's queue producer binding their ready states are sent to. */
  queue?: string;
}
