// The namespace's registered nodes: who serves each node (runtime and transport) and its schemas.
// Whoever registers a node last serves it, unless it registers with `keepOthers`.
import type { RegisteredNodeRecord, RegisterOptions, TransportedNodeRegistration } from "../contracts";
import type { NodeTemplate, RegisteredNode } from "../engine/model";
import { nodeKey } from "../engine/run/snapshot";
import { isoNaive } from "../engine/time";
import { NodeRow } from "./namespace-rows";
import { objectId } from "./object-id";
import { parseStored } from "./stored";

/** Another namespace's registered nodes among `names` (one RPC to that namespace's actor). */
export type RemoteRegistry = (namespace: string, names: string[]) => Promise<RegisteredNode[]>;

export class NodeRegistry {
  constructor(
    private readonly sql: SqlStorage,
    private readonly remote: RemoteRegistry,
  ) {}

  /** Upserts the nodes. MUST be called inside a transaction. */
  register(
    runtimeName: string,
    nodes: readonly TransportedNodeRegistration[],
    options: RegisterOptions,
    now: number,
  ): void {
    for (const n of nodes) {
      this.sql.exec(
        `INSERT INTO registered_nodes
           (name, id, runtime_name, inputs_schema, outputs_schema, secrets, transport, queue, created_at,
            updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET runtime_name = excluded.runtime_name,
           inputs_schema = excluded.inputs_schema, outputs_schema = excluded.outputs_schema,
           secrets = excluded.secrets, transport = excluded.transport, queue = excluded.queue,
           updated_at = excluded.updated_at
         WHERE ? = 0 OR registered_nodes.runtime_name = excluded.runtime_name`,
        n.name,
        objectId(),
        runtimeName,
        JSON.stringify(n.inputs_schema),
        JSON.stringify(n.outputs_schema),
        JSON.stringify(n.secrets),
        n.transport,
        n.transport === "queue" ? (n.queue ?? null) : null,
        now,
        now,
        options.keepOthers ? 1 : 0,
      );
    }
  }

  /** Every registered node, in registration order, as the nodes list shows them. */
  list(namespace: string): RegisteredNodeRecord[] {
    return this.sql
      .exec("SELECT * FROM registered_nodes ORDER BY rowid")
      .toArray()
      .map((raw) => {
        const row = this.parseRow(raw);
        return {
          _id: row.id,
          created_at: isoNaive(row.created_at),
          updated_at: isoNaive(row.updated_at),
          ...toRegisteredNode(namespace, row),
        };
      });
  }

  /** The registered nodes among `names` (others are simply absent from the answer). */
  find(namespace: string, names: readonly string[]): RegisteredNode[] {
    const wanted = [...new Set(names)];
    if (wanted.length === 0) return [];
    return this.sql
      .exec(
        "SELECT * FROM registered_nodes WHERE name IN (SELECT value FROM json_each(?))",
        JSON.stringify(wanted),
      )
      .toArray()
      .map((raw) => toRegisteredNode(namespace, this.parseRow(raw)));
  }

  /**
   * The registry entries of every node the template names: this namespace's from local storage, other
   * namespaces' by one RPC each, in parallel. Keyed by `nodeKey(namespace, name)`.
   */
  async forTemplate(namespace: string, nodes: readonly NodeTemplate[]): Promise<Map<string, RegisteredNode>> {
    const byNamespace = new Map<string, string[]>();
    for (const n of nodes) {
      const names = byNamespace.get(n.namespace);
      if (names) names.push(n.node_name);
      else byNamespace.set(n.namespace, [n.node_name]);
    }
    const found = await Promise.all(
      [...byNamespace].map(async ([ns, names]) => {
        if (ns === namespace) return this.find(namespace, names);
        // The empty name cannot hold registered nodes (no route reaches it); no actor is woken for it.
        if (ns === "") return [];
        return this.remote(ns, names);
      }),
    );
    return new Map(found.flat().map((n) => [nodeKey(n.namespace, n.name), n]));
  }

  private parseRow(raw: unknown): NodeRow {
    return parseStored(NodeRow, raw, "registered node");
  }
}

function toRegisteredNode(namespace: string, row: NodeRow): RegisteredNode {
  return {
    name: row.name,
    namespace,
    runtime_name: row.runtime_name,
    runtime_namespace: namespace,
    inputs_schema: row.inputs_schema,
    outputs_schema: row.outputs_schema,
    secrets: row.secrets,
    transport: row.transport,
    ...(row.queue !== null ? { queue: row.queue } : {}),
  };
}
