// The namespace's graph templates: stored with their verification outcome and encrypted secrets, shown
// with secret names only.
import type { GraphTemplateInput, GraphTemplateRecord } from "../contracts";
import { isoNaive } from "../engine/time";
import type { NamespaceCron } from "./namespace-cron";
import { GraphRow } from "./namespace-rows";
import { objectId } from "./object-id";
import { parseStored } from "./stored";

export class GraphTemplates {
  constructor(
    private readonly sql: SqlStorage,
    private readonly cron: NamespaceCron,
  ) {}

  /**
   * Stores a verified template (`errors` empty: VALID) and reconciles its cron schedules. MUST be called
   * inside a transaction; the caller re-arms the alarm afterwards.
   */
  write(graphName: string, template: GraphTemplateInput, errors: readonly string[], now: number): void {
    const previous = this.sql
      .exec<{ id: string; created_at: number }>(
        "SELECT id, created_at FROM graph_templates WHERE name = ?",
        graphName,
      )
      .toArray()[0];
    this.sql.exec(
      `INSERT OR REPLACE INTO graph_templates
           (name, id, nodes, secrets, retry_policy, store_config, triggers, validation_status, validation_errors,
            created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      graphName,
      previous?.id ?? objectId(),
      JSON.stringify(template.nodes),
      JSON.stringify(template.secrets),
      JSON.stringify(template.retry_policy),
      JSON.stringify(template.store_config),
      JSON.stringify(template.triggers),
      errors.length === 0 ? "VALID" : "INVALID",
      JSON.stringify(errors),
      previous?.created_at ?? now,
      now,
    );
    this.cron.reconcile(graphName, template.triggers, errors.length === 0, now);
  }

  /** The stored template, parsed; undefined when there is none. */
  row(graphName: string): GraphRow | undefined {
    const raw = this.sql.exec("SELECT * FROM graph_templates WHERE name = ?", graphName).toArray()[0];
    return raw === undefined ? undefined : parseStored(GraphRow, raw, `graph template ${graphName}`);
  }

  get(namespace: string, graphName: string): GraphTemplateRecord | null {
    const row = this.row(graphName);
    return row === undefined ? null : this.record(namespace, row);
  }

  list(namespace: string): GraphTemplateRecord[] {
    return this.sql
      .exec("SELECT * FROM graph_templates ORDER BY rowid")
      .toArray()
      .map((raw) => this.record(namespace, parseStored(GraphRow, raw, "graph template")));
  }

  private record(namespace: string, row: GraphRow): GraphTemplateRecord {
    return {
      _id: row.id,
      name: row.name,
      namespace,
      nodes: row.nodes,
      secret_names: Object.keys(row.secrets),
      retry_policy: row.retry_policy,
      store_config: row.store_config,
      triggers: row.triggers,
      trigger_schedule: this.cron.schedule(row.name),
      validation_status: row.validation_status,
      validation_errors: row.validation_errors,
      created_at: isoNaive(row.created_at),
      updated_at: isoNaive(row.updated_at),
    };
  }
}
