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

export const RunStatus = z.enum(["SUCCESS", "PENDING", "FAILED"]);
export type RunStatus = z.infer<typeof RunStatus>;

/** How ready states of a node reach its runtime. */
export const Transport = z.enum(["queue", "pull"]);
export type Transport = z.infer<typeof Transport>;

export interface Unites {
  identifier: string;
  strategy: UnitesStrategy;
}

export interface NodeTemplate {
  node_name: string;
  namespace: string;
  identifier: string;
  inputs: Record<string, unknown>;
  next_nodes: string[] | null;
  unites: Unites | null;
}

export interface RetryPolicy {
  max_retries: number;
  strategy: RetryStrategy;
  backoff_factor: number;
  exponent: number;
  max_delay: number | null;
}

export interface StoreConfig {
  required_keys: string[];
  default_values: Record<string, string>;
}

export interface CronTrigger {
  type: "CRON";
  value: { expression: string };
}

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
}
