// The run's identity and graph snapshot, written once at start.

import type { RunBootstrap } from "../contracts";
import { runKeyOfRunId } from "../engine/ids";
import type { RunTemplateSnapshot } from "../engine/run/snapshot";

export interface RunMeta {
  run_id: string;
  run_key: string;
  namespace: string;
  graph_name: string;
  created_at: string;
  template: RunTemplateSnapshot;
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
  };
  sql.exec("INSERT INTO meta (key, value) VALUES ('run', ?)", JSON.stringify(meta));
  return meta;
}

export function readRunMeta(sql: SqlStorage): RunMeta | null {
  const row = sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'run'").toArray()[0];
  return row ? (JSON.parse(row.value) as RunMeta) : null;
}
