// The run's identity and graph snapshot, written once when the actor starts (at the trigger for the run
// actor, with the first batch of branches for a branch shard) and parsed (not cast) when read back.
import { z } from "zod";
import type { RunBootstrap } from "../contracts";
import { runKeyOfRunId } from "../engine/ids";
import { RunTemplateSnapshot } from "../engine/run/snapshot";
import type { ShardPlan } from "../engine/run/types";
import { jsonText, parseStored } from "./stored";

const ShardPlanSchema = z.object({ count: z.int().min(0), from: z.int().min(0) });
/** Runs started before branch shards existed are run actors that keep all their branches. */
const NO_SHARDS: ShardPlan = { count: 0, from: 0 };

const RunMeta = z.object({
  run_id: z.string(),
  run_key: z.string(),
  namespace: z.string(),
  graph_name: z.string(),
  created_at: z.string(),
  template: RunTemplateSnapshot,
  /** This actor's place in the run: 0 for the run actor, s for branch shard s. */
  shard: z.int().min(0).default(0),
  /** Where the run actor hands the branches of wide fan-outs (count 0: it keeps them). */
  shards: ShardPlanSchema.default(NO_SHARDS),
  /** The trigger's warnings, kept so the run's views can show them; absent if none. */
  warnings: z.array(z.string()).optional(),
});
export type RunMeta = z.infer<typeof RunMeta>;

/** The meta of a new run actor, from its trigger's bootstrap and the engine's shard setting. */
export function runMetaOf(b: RunBootstrap, shards: ShardPlan): RunMeta {
  const runKey = runKeyOfRunId(b.run_id);
  if (!runKey) throw new Error(`malformed run id ${b.run_id}`);
  return {
    run_id: b.run_id,
    run_key: runKey,
    namespace: b.namespace,
    graph_name: b.graph_name,
    created_at: b.created_at,
    template: b.template,
    shard: 0,
    shards,
    ...(b.warnings?.length ? { warnings: b.warnings } : {}),
  };
}

export function writeRunMeta(sql: SqlStorage, meta: RunMeta): RunMeta {
  sql.exec("INSERT INTO meta (key, value) VALUES ('run', ?)", JSON.stringify(meta));
  return meta;
}

export function readRunMeta(sql: SqlStorage): RunMeta | null {
  const row = sql.exec("SELECT value FROM meta WHERE key = 'run'").toArray()[0];
  return row ? parseStored(z.object({ value: jsonText(RunMeta) }), row, "run meta").value : null;
}
