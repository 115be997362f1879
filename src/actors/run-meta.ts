// The run's identity and graph snapshot, written once when the actor starts: at the trigger for the run
// actor, with the first batch of branches for a branch shard.
import { runKeyOfRunId } from "../engine/ids";
import type { ShardPlan } from "../engine/run/types";
import type { RunBootstrap, RunTemplateSnapshot } from "./contracts";

export interface RunMeta {
  run_id: string;
  run_key: string;
  namespace: string;
  graph_name: string;
  created_at: string;
  template: RunTemplateSnapshot;
  /** This actor's place in the run: 0 for the run actor, s for branch shard s. */
  shard: number;
  /** Where the run actor hands the branches of wide fan-outs (count 0: it keeps them). */
  shards: ShardPlan;
}

const NO_SHARDS: ShardPlan = { count: 0, from: 0 };

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
  };
}

export function writeRunMeta(sql: SqlStorage, meta: RunMeta): RunMeta {
  sql.exec("INSERT INTO meta (key, value) VALUES ('run', ?)", JSON.stringify(meta));
  return meta;
}

export function readRunMeta(sql: SqlStorage): RunMeta | null {
  const row = sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'run'").toArray()[0];
  if (!row) return null;
  // Runs started before branch shards existed are run actors that keep all their branches.
  const meta = JSON.parse(row.value) as Partial<RunMeta> & Omit<RunMeta, "shard" | "shards">;
  return { ...meta, shard: meta.shard ?? 0, shards: meta.shards ?? NO_SHARDS };
}
