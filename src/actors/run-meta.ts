// The run's identity and graph snapshot, written once at start and parsed (not cast) when read back.
import { z } from "zod";
import type { RunBootstrap } from "../contracts";
import { runKeyOfRunId } from "../engine/ids";
import { RunTemplateSnapshot } from "../engine/run/snapshot";
import { jsonText, parseStored } from "./stored";

const RunMeta = z.object({
  run_id: z.string(),
  run_key: z.string(),
  namespace: z.string(),
  graph_name: z.string(),
  created_at: z.string(),
  template: RunTemplateSnapshot,
});
export type RunMeta = z.infer<typeof RunMeta>;

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
  const row = sql.exec("SELECT value FROM meta WHERE key = 'run'").toArray()[0];
  return row ? parseStored(z.object({ value: jsonText(RunMeta) }), row, "run meta").value : null;
}
