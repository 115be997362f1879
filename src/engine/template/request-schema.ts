// Tier 1 of graph validation (spec §4.1.1, §2.8): request bodies, with Exosphere's field-validator messages.
// Custom rules raise one `custom` issue per field, its messages joined by "\n" as Pydantic's ValueError is,
// so the API can render FastAPI's 422 shape from the issue list without knowing the rules.
import { z } from "zod";
import { CronExpressionError, nextFireAfter } from "../cron";
import { laxInt } from "../lax-integer";
import {
  exceedsBytes,
  MAX_DELAY_MS,
  MAX_NAME_CHARS,
  MAX_NODES_PER_GRAPH,
  MAX_STORE_VALUE_BYTES,
  MAX_TIMEOUT_SECONDS,
} from "../limits";
import { CronTrigger, DEFAULT_RETRY_POLICY, RetryStrategy, UnitesStrategy } from "../model";

type Ctx = z.core.$RefinementCtx;

function fail(ctx: Ctx, input: unknown, messages: string[]): typeof z.NEVER {
  ctx.addIssue({ code: "custom", message: messages.join("\n"), input });
  return z.NEVER;
}

/** A name or key of a body (bounded, see MAX_NAME_CHARS). */
export const boundedName = () => z.string().max(MAX_NAME_CHARS);

const nodeName = boundedName().transform((v, ctx) => {
  const name = v.trim();
  return name === "" ? fail(ctx, v, ["Node name cannot be empty"]) : name;
});

const nodeIdentifier = boundedName().transform((v, ctx) => {
  const id = v.trim();
  if (id === "") return fail(ctx, v, ["Node identifier cannot be empty"]);
  if (id === "store") return fail(ctx, v, ["Node identifier cannot be reserved word 'store'"]);
  return id;
});

const nextNodes = z
  .array(boundedName())
  .nullable()
  .default(null)
  .transform((list, ctx) => {
    if (list === null) return null;
    const seen = new Set<string>();
    const errors: string[] = [];
    for (const entry of list) {
      const id = entry.trim();
      if (id === "") errors.push("Next node identifier cannot be empty");
      else if (seen.has(id)) errors.push(`Next node identifier ${id} is not unique`);
      else seen.add(id);
    }
    return errors.length > 0 ? fail(ctx, list, errors) : [...seen];
  });

const unites = z
  .object({
    identifier: boundedName(),
    strategy: UnitesStrategy.default("ALL_SUCCESS"),
    // Our extensions (run control, Step Functions' names): failures an ALL_SUCCESS barrier tolerates.
    tolerated_failure_count: laxInt(z.int().min(0)).nullish(),
    tolerated_failure_percentage: z.number().min(0).max(100).nullish(),
  })
  .nullable()
  .default(null)
  .transform((u, ctx) => {
    if (u === null) return null;
    const identifier = u.identifier.trim();
    if (identifier === "") return fail(ctx, u, ["Unites identifier cannot be empty"]);
    const count = u.tolerated_failure_count ?? undefined;
    const percentage = u.tolerated_failure_percentage ?? undefined;
    if ((count !== undefined || percentage !== undefined) && u.strategy !== "ALL_SUCCESS") {
      return fail(ctx, u, [
        "tolerated_failure_count and tolerated_failure_percentage apply only to the ALL_SUCCESS strategy",
      ]);
    }
    return {
      identifier,
      strategy: u.strategy,
      ...(count !== undefined ? { tolerated_failure_count: count } : {}),
      ...(percentage !== undefined ? { tolerated_failure_percentage: percentage } : {}),
    };
  });

export const nodeTemplateSchema = z
  .object({
    node_name: nodeName,
    namespace: boundedName(),
    identifier: nodeIdentifier,
    inputs: z.record(boundedName(), z.unknown()),
    next_nodes: nextNodes,
    unites,
    // Our extensions (run control): absent (or null) means no limit.
    max_concurrency: laxInt(z.int().min(1)).nullish(),
    timeout_seconds: laxInt(z.int().min(1).max(MAX_TIMEOUT_SECONDS)).nullish(),
  })
  .transform(({ max_concurrency, timeout_seconds, ...node }) => ({
    ...node,
    // Stored and shown only when set, so a graph without them keeps Exosphere's shape.
    ...(max_concurrency != null ? { max_concurrency } : {}),
    ...(timeout_seconds != null ? { timeout_seconds } : {}),
  }));

/** Exosphere's store key rule: trimmed, non-empty, no '.', unique after trimming. */
function storeKeyErrors(keys: string[]): { errors: string[]; accepted: Set<string> } {
  const errors: string[] = [];
  const accepted = new Set<string>();
  for (const raw of keys) {
    const key = raw.trim();
    if (key === "") errors.push("Key cannot be empty or contain only whitespace");
    else if (key.includes(".")) errors.push(`Key '${key}' cannot contain '.' character`);
    else if (accepted.has(key)) errors.push(`Key '${key}' is duplicated`);
    else accepted.add(key);
  }
  return { errors, accepted };
}

export const storeConfigSchema = z
  .object({
    required_keys: z
      .array(boundedName())
      .default(() => [])
      .transform((keys, ctx) => {
        const { errors, accepted } = storeKeyErrors(keys);
        return errors.length > 0 ? fail(ctx, keys, errors) : [...accepted];
      }),
    default_values: z
      .record(boundedName(), z.string())
      .default(() => ({}))
      .transform((values, ctx) => {
        const entries = Object.entries(values);
        const { errors } = storeKeyErrors(entries.map(([k]) => k));
        if (errors.length > 0) return fail(ctx, values, errors);
        return Object.fromEntries(entries.map(([k, v]) => [k.trim(), v]));
      }),
  })
  .default(() => ({ required_keys: [], default_values: {} }));

export const retryPolicySchema = z
  .object({
    max_retries: laxInt(z.int().min(0)).default(DEFAULT_RETRY_POLICY.max_retries),
    strategy: RetryStrategy.default(DEFAULT_RETRY_POLICY.strategy),
    backoff_factor: laxInt(z.int().positive()).default(DEFAULT_RETRY_POLICY.backoff_factor),
    exponent: laxInt(z.int().positive()).default(DEFAULT_RETRY_POLICY.exponent),
    max_delay: laxInt(z.int().positive().nullable()).default(DEFAULT_RETRY_POLICY.max_delay),
  })
  .default(() => ({ ...DEFAULT_RETRY_POLICY }));

/** A stored CronTrigger whose expression must also be one we can schedule (checked at upsert). */
export const cronTriggerSchema = CronTrigger.extend({
  value: CronTrigger.shape.value.extend({
    // Exosphere says only "Invalid cron expression"; we add what is wrong (croner's message, or ours).
    // Bounded first, and aborting there: a megabyte of text is not worth handing to the cron parser.
    expression: z
      .string()
      .max(MAX_NAME_CHARS, { abort: true })
      .superRefine((expression, ctx) => {
        const problem = cronProblem(expression);
        if (problem !== null) ctx.addIssue({ code: "custom", message: problem, input: expression });
      }),
  }),
});

/** Why `expression` cannot schedule a trigger from now on, or null when it can. */
function cronProblem(expression: string): string | null {
  try {
    nextFireAfter(expression, Date.now());
    return null;
  } catch (e) {
    if (e instanceof CronExpressionError) return e.message;
    throw e;
  }
}

const stringMap = z.record(boundedName(), z.string());

/** A store value is one row of the run's store table (MAX_STORE_VALUE_BYTES). */
const storeValue = z
  .string()
  .refine(
    (v) => !exceedsBytes(v, MAX_STORE_VALUE_BYTES),
    `Store value is larger than ${MAX_STORE_VALUE_BYTES} bytes`,
  );

/** Body of `PUT /v0/namespace/{ns}/graph/{graph_name}` (spec §2.5); unknown fields are dropped. */
export const upsertGraphBodySchema = z.object({
  secrets: stringMap,
  nodes: z.array(nodeTemplateSchema).max(MAX_NODES_PER_GRAPH),
  retry_policy: retryPolicySchema,
  store_config: storeConfigSchema,
  triggers: z.array(cronTriggerSchema).default(() => []),
});
export type UpsertGraphBody = z.infer<typeof upsertGraphBodySchema>;

/** Body of `POST /v0/namespace/{ns}/graph/{graph_name}/trigger` (spec §2.8). */
export const triggerBodySchema = z.object({
  store: z.record(boundedName(), storeValue).default(() => ({})),
  inputs: stringMap.default(() => ({})),
  start_delay: laxInt(z.int().min(0).max(MAX_DELAY_MS)).default(0),
});
export type TriggerBody = z.infer<typeof triggerBodySchema>;
