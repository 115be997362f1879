// The run's identity and graph snapshot, written once at start.
import { runKeyOfRunId } from "../engine/ids";
import type { RunBootstrap, RunTemplateSnapshot } from "./contracts";

export interface RunMeta {
  run_id: string;
  run_key: string;
  namespace: string;
  graph_name: string;
  created_at: string;
  template: RunTemplateSnapshot;
  /** The trigger's warnings, kept so the run's views can show them; absent if none. */
  warnings?: string[];
}

export function writeRunMeta(sql: SqlStorage, b: RunBootstrap): RunMeta {
  const runKey = runKeyOfRunId(b.run_id);
  if (!runKey) throw new Error(`malformed run id ${b.run_id}`);
  const meta: RunMeta = {
    run_id: b.run_id,
    run_key: runKey,
    namespace: b.namespace,
    graph_name: b.graph_name,
    created_at: b.created_at,
    template: b.template,
    ...(b.warnings?.length ? { warnings: b.warnings } : {}),
  };
  sql.exec("INSERT INTO meta (key, value) VALUES ('run', ?)", JSON.stringify(meta));
  return meta;
}

export function readRunMeta(sql: SqlStorage): RunMeta | null {
  const row = sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'run'").toArray()[0];
  return row ? (JSON.parse(row.value) as RunMeta) : null;
}
