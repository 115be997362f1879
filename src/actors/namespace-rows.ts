// The rows the namespace actor stores, as schemas: every read parses its row (JSON columns included)
// instead of casting it, so a row of another shape fails with its name rather than deep in the engine.
import { z } from "zod";
import {
  CronTrigger,
  NodeTemplate,
  RetryPolicy,
  StoreConfig,
  Transport,
  ValidationStatus,
} from "../engine/model";
import { jsonText } from "./stored";

const jsonObject = z.record(z.string(), z.unknown());

export const NodeRow = z.object({
  name: z.string(),
  id: z.string(),
  runtime_name: z.string(),
  inputs_schema: jsonText(jsonObject),
  outputs_schema: jsonText(jsonObject),
  secrets: jsonText(z.array(z.string())),
  transport: Transport,
  /** The queue producer binding of a `queue` node; NULL for pull nodes and rows of schema version < 5. */
  queue: z.string().nullable(),
  created_at: z.number(),
  updated_at: z.number(),
});
export type NodeRow = z.output<typeof NodeRow>;

export const GraphRow = z.object({
  name: z.string(),
  id: z.string(),
  nodes: jsonText(z.array(NodeTemplate)),
  /** name → ciphertext */
  secrets: jsonText(z.record(z.string(), z.string())),
  retry_policy: jsonText(RetryPolicy),
  store_config: jsonText(StoreConfig),
  triggers: jsonText(z.array(CronTrigger)),
  validation_status: ValidationStatus,
  validation_errors: jsonText(z.array(z.string())),
  created_at: z.number(),
  updated_at: z.number(),
});
export type GraphRow = z.output<typeof GraphRow>;

export const RunIndexRow = z.object({ run_id: z.string(), graph_name: z.string(), created_at: z.number() });
