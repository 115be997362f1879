// One actor per namespace (`env.NAMESPACE.getByName(namespace)`): registered nodes, graph templates with
// their encrypted secrets, and the index of runs used for listing. The rules live in src/engine; this
// class loads rows, calls them and writes rows. One extra instance, named DIRECTORY_ACTOR_NAME, keeps
// the list of namespaces that registered nodes, in a table no namespace instance uses.
import { DurableObject } from "cloudflare:workers";
import { earliest } from "../engine/cron-schedule";
import { ApiError, type Result, toResult } from "../engine/errors";
import { newRunId } from "../engine/ids";
import {
  type CronTrigger,
  type NodeTemplate,
  type RegisteredNode,
  type RetryPolicy,
  type StoreConfig,
  Transport,
  ValidationStatus,
} from "../engine/model";
import { verifyGraph } from "../engine/template/registry-check";
import type { TriggerBody } from "../engine/template/request-schema";
import { resolveRootInputs } from "../engine/template/root-inputs";
import { findRoot, GraphStructureError, validateGraphStructure } from "../engine/template/structure";
import { isoNaive } from "../engine/time";
import { type NodeInfo, nodeKey, type RunBootstrap } from "./contracts";
import type {
  GraphRow,
  GraphTemplateInput,
  GraphTemplateRecord,
  NodeRegistration,
  NodeRow,
  RegisteredNodeRecord,
  RunIndexPage,
} from "./namespace-contracts";
import { NamespaceCron } from "./namespace-cron";
import { NAMESPACE_SCHEMA } from "./namespace-schema";

export type {
  GraphTemplateInput,
  GraphTemplateRecord,
  NodeRegistration,
  RegisteredNodeRecord,
  RunIndexEntry,
  RunIndexPage,
} from "./namespace-contracts";

/**
 * The directory's actor name. It cannot be a user namespace: the API refuses this name in every
 * `/v0/namespace/{ns}/...` path, and its table is disjoint from the namespace tables anyway.
 */
export const DIRECTORY_ACTOR_NAME = "__directory__";

const SCHEMA_VERSION = 2;

/**
 * The actor as its callers see it. Every method takes and returns plain data (structured clone), so the
 * class's own signatures describe the stub exactly; workerd's generic RPC typing would turn the JSON
 * values (`unknown` fields such as node inputs and schemas) into `never`.
 */
export type NamespaceActorRpc = Omit<NamespaceActor, keyof DurableObject<Env>>;

export function namespaceStub(env: Env, namespace: string): NamespaceActorRpc {
  return env.NAMESPACE.getByName(namespace) as unknown as NamespaceActorRpc;
}

export function directoryStub(env: Env): NamespaceActorRpc {
  return env.NAMESPACE.getByName(DIRECTORY_ACTOR_NAME) as unknown as NamespaceActorRpc;
}

/** A 24-hex id, the shape of Exosphere's ObjectIds, for the `_id` fields of listed documents. */
function objectId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class NamespaceActor extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly cron: NamespaceCron;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.cron = new NamespaceCron({
      ctx,
      env,
      namespace: () => this.meta("namespace"),
      snapshotRun: (namespace, graphName, body, now) => this.snapshotRun(namespace, graphName, body, now),
      recordRun: (bootstrap, now) => this.recordRun(bootstrap, now),
    });
    void ctx.blockConcurrencyWhile(async () => {
      if (this.migrate()) await this.arm();
    });
  }

  /** Creates or upgrades the schema; true when cron schedules were backfilled and the alarm needs arming. */
  private migrate(): boolean {
    this.sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    const version = Number(this.meta("schema_version") ?? 0);
    if (version >= SCHEMA_VERSION) return false;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(NAMESPACE_SCHEMA);
      // Version 1 stored cron triggers but scheduled nothing: arm the VALID graphs' triggers now.
      if (version === 1) {
        const now = Date.now();
        for (const g of this.sql
          .exec<{ name: string; triggers: string }>(
            "SELECT name, triggers FROM graph_templates WHERE validation_status = 'VALID'",
          )
          .toArray()) {
          this.cron.reconcile(g.name, JSON.parse(g.triggers) as CronTrigger[], true, now);
        }
      }
      this.setMeta("schema_version", String(SCHEMA_VERSION));
    });
    return version === 1;
  }

  private meta(key: string): string | undefined {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0];
    return row?.value;
  }

  private setMeta(key: string, value: string): void {
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
  }

  // ---- registered nodes ----

  /** Upserts the nodes (one transaction) and, the first time, lists the namespace in the directory. */
  /**
   * Registers nodes; by default whoever registers a node last serves it. With `keepOthers`, a node that
   * another runtime registered is left to it (how a bundled runtime registers itself at start-up).
   */
  async registerNodes(
    namespace: string,
    runtimeName: string,
    nodes: NodeRegistration[],
    options: { keepOthers?: boolean } = {},
  ): Promise<void> {
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      this.setMeta("namespace", namespace);
      for (const n of nodes) {
        this.sql.exec(
          `INSERT INTO registered_nodes
             (name, id, runtime_name, inputs_schema, outputs_schema, secrets, transport, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET runtime_name = excluded.runtime_name,
             inputs_schema = excluded.inputs_schema, outputs_schema = excluded.outputs_schema,
             secrets = excluded.secrets, transport = excluded.transport, updated_at = excluded.updated_at
           WHERE ? = 0 OR registered_nodes.runtime_name = excluded.runtime_name`,
          n.name,
          objectId(),
          runtimeName,
          JSON.stringify(n.inputs_schema),
          JSON.stringify(n.outputs_schema),
          JSON.stringify(n.secrets),
          n.transport,
          now,
          now,
          options.keepOthers ? 1 : 0,
        );
      }
    });
    // Once per namespace, off every hot path. If the directory call fails the flag stays unset and the
    // next registration tries again; the registration itself is already committed.
    if (nodes.length > 0 && this.meta("listed_in_directory") === undefined) {
      await directoryStub(this.env).addToDirectory(namespace);
      this.setMeta("listed_in_directory", "1");
    }
  }

  async listNodes(namespace: string): Promise<RegisteredNodeRecord[]> {
    return this.sql
      .exec<NodeRow>("SELECT * FROM registered_nodes ORDER BY rowid")
      .toArray()
      .map((row) => ({
        _id: row.id,
        created_at: isoNaive(row.created_at),
        updated_at: isoNaive(row.updated_at),
        ...this.toRegisteredNode(namespace, row),
      }));
  }

  /** The registered nodes among `names` (others are simply absent from the answer). */
  async getRegisteredNodes(namespace: string, names: string[]): Promise<RegisteredNode[]> {
    return this.registeredNodes(namespace, names);
  }

  private registeredNodes(namespace: string, names: string[]): RegisteredNode[] {
    const wanted = [...new Set(names)];
    if (wanted.length === 0) return [];
    return this.sql
      .exec<NodeRow>(
        "SELECT * FROM registered_nodes WHERE name IN (SELECT value FROM json_each(?))",
        JSON.stringify(wanted),
      )
      .toArray()
      .map((row) => this.toRegisteredNode(namespace, row));
  }

  private toRegisteredNode(namespace: string, row: NodeRow): RegisteredNode {
    return {
      name: row.name,
      namespace,
      runtime_name: row.runtime_name,
      runtime_namespace: namespace,
      inputs_schema: JSON.parse(row.inputs_schema) as Record<string, unknown>,
      outputs_schema: JSON.parse(row.outputs_schema) as Record<string, unknown>,
      secrets: JSON.parse(row.secrets) as string[],
      transport: Transport.parse(row.transport),
    };
  }

  /**
   * The registry entries of every node the template names: this namespace's from local storage, other
   * namespaces' by one RPC each, in parallel. Keyed by `nodeKey(namespace, name)`.
   */
  private async registryFor(namespace: string, nodes: NodeTemplate[]): Promise<Map<string, RegisteredNode>> {
    const byNamespace = new Map<string, string[]>();
    for (const n of nodes) {
      const names = byNamespace.get(n.namespace);
      if (names) names.push(n.node_name);
      else byNamespace.set(n.namespace, [n.node_name]);
    }
    const found = await Promise.all(
      [...byNamespace].map(async ([ns, names]) => {
        if (ns === namespace) return this.registeredNodes(namespace, names);
        // Neither the empty name nor the directory can hold registered nodes; no actor is woken for them.
        if (ns === "" || ns === DIRECTORY_ACTOR_NAME) return [];
        return namespaceStub(this.env, ns).getRegisteredNodes(ns, names);
      }),
    );
    return new Map(found.flat().map((n) => [nodeKey(n.namespace, n.name), n]));
  }

  // ---- graph templates ----

  /**
   * Validates (tiers 2 and 3) and stores a template. Verification against the registry (tier 3) runs
   * here, before the answer, instead of in the background as Exosphere does: the 201 response and every
   * later GET already say VALID or INVALID. The Python SDK polls only while PENDING, so it sees the same
   * outcome, just sooner, and no stale or lost verification can overwrite a newer upsert.
   */
  async upsertGraph(
    namespace: string,
    graphName: string,
    template: GraphTemplateInput,
  ): Promise<Result<GraphTemplateRecord>> {
    return toResult(async () => {
      const fieldErrors: string[] = [];
      if (graphName.trim() === "") fieldErrors.push("Name cannot be empty");
      if (namespace.trim() === "") fieldErrors.push("Namespace cannot be empty");
      if (fieldErrors.length > 0) throw invalidTemplate(fieldErrors.join("\n"));
      try {
        validateGraphStructure(template.nodes, template.store_config);
      } catch (e) {
        if (e instanceof GraphStructureError) throw invalidTemplate(e.message);
        throw e;
      }

      const registry = await this.registryFor(namespace, template.nodes);
      const errors = verifyGraph(template.nodes, Object.keys(template.secrets), (name, ns) =>
        registry.get(nodeKey(ns, name)),
      );

      // One transaction: the read of the previous version, the write and the cron schedules are atomic.
      const now = Date.now();
      this.ctx.storage.transactionSync(() => this.writeGraph(namespace, graphName, template, errors, now));
      await this.arm();
      const stored = this.graphRow(graphName);
      if (stored === undefined) throw new Error("graph template vanished inside its own write");
      return this.toGraphRecord(namespace, stored);
    });
  }

  /** Stores a verified template and reconciles its cron schedules. MUST be called inside a transaction. */
  private writeGraph(
    namespace: string,
    graphName: string,
    template: GraphTemplateInput,
    errors: string[],
    now: number,
  ): void {
    const previous = this.sql
      .exec<{ id: string; created_at: number }>(
        "SELECT id, created_at FROM graph_templates WHERE name = ?",
        graphName,
      )
      .toArray()[0];
    this.setMeta("namespace", namespace);
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

  async getGraph(namespace: string, graphName: string): Promise<GraphTemplateRecord | null> {
    const row = this.graphRow(graphName);
    return row === undefined ? null : this.toGraphRecord(namespace, row);
  }

  async listGraphs(namespace: string): Promise<GraphTemplateRecord[]> {
    return this.sql
      .exec<GraphRow>("SELECT * FROM graph_templates ORDER BY rowid")
      .toArray()
      .map((row) => this.toGraphRecord(namespace, row));
  }

  private graphRow(graphName: string): GraphRow | undefined {
    return this.sql.exec<GraphRow>("SELECT * FROM graph_templates WHERE name = ?", graphName).toArray()[0];
  }

  private toGraphRecord(namespace: string, row: GraphRow): GraphTemplateRecord {
    return {
      _id: row.id,
      name: row.name,
      namespace,
      nodes: JSON.parse(row.nodes) as NodeTemplate[],
      secret_names: Object.keys(JSON.parse(row.secrets) as Record<string, string>),
      retry_policy: JSON.parse(row.retry_policy) as RetryPolicy,
      store_config: JSON.parse(row.store_config) as StoreConfig,
      triggers: JSON.parse(row.triggers) as CronTrigger[],
      trigger_schedule: this.cron.schedule(row.name),
      validation_status: ValidationStatus.parse(row.validation_status),
      validation_errors: JSON.parse(row.validation_errors) as string[],
      created_at: isoNaive(row.created_at),
      updated_at: isoNaive(row.updated_at),
    };
  }

  // ---- runs ----

  /**
   * Everything a new run needs, snapshotted from the current template and registry, with the run
   * recorded in the index. The caller starts the run actor with the answer.
   */
  async prepareRun(namespace: string, graphName: string, body: TriggerBody): Promise<Result<RunBootstrap>> {
    return toResult(async () => {
      const now = Date.now();
      const bootstrap = await this.snapshotRun(namespace, graphName, body, now);
      this.ctx.storage.transactionSync(() => this.recordRun(bootstrap, now));
      return bootstrap;
    });
  }

  /** A new run's bootstrap from the current template and registry; writes nothing. Throws ApiError. */
  private async snapshotRun(
    namespace: string,
    graphName: string,
    body: TriggerBody,
    now: number,
  ): Promise<RunBootstrap> {
    const row = this.graphRow(graphName);
    if (row === undefined) {
      throw new ApiError(404, `Graph template not found for namespace ${namespace} and graph ${graphName}`);
    }
    if (row.validation_status !== "VALID") throw new ApiError(400, "Graph template is not valid");
    const nodes = JSON.parse(row.nodes) as NodeTemplate[];
    const storeConfig = JSON.parse(row.store_config) as StoreConfig;
    const root = findRoot(nodes);
    const { inputs, store, warnings } = resolveRootInputs(root, body, storeConfig);

    const registry = await this.registryFor(namespace, nodes);
    const nodeInfo: Record<string, NodeInfo> = {};
    for (const n of nodes) {
      const key = nodeKey(n.namespace, n.node_name);
      const registered = registry.get(key);
      // A VALID template's nodes were registered when it was verified and registrations are never
      // deleted; the fallback only keeps a hand-edited store from crashing the trigger.
      nodeInfo[key] = registered
        ? {
            transport: registered.transport,
            secrets: registered.secrets,
            inputFields: Object.keys((registered.inputs_schema.properties ?? {}) as Record<string, unknown>),
          }
        : { transport: "pull", secrets: [], inputFields: Object.keys(n.inputs) };
    }

    return {
      run_id: newRunId(),
      namespace,
      graph_name: graphName,
      created_at: isoNaive(now),
      template: {
        nodes,
        retry_policy: JSON.parse(row.retry_policy) as RetryPolicy,
        store_config: storeConfig,
        secrets: JSON.parse(row.secrets) as Record<string, string>,
        node_info: nodeInfo,
      },
      store,
      root_inputs: inputs,
      start_delay: body.start_delay,
      ...(warnings.length > 0 ? { warnings } : {}),
    };
  }

  /** Adds the run to the index. MUST be called inside a transaction. */
  private recordRun(bootstrap: RunBootstrap, now: number): void {
    this.sql.exec(
      "INSERT INTO runs (run_id, graph_name, created_at) VALUES (?, ?, ?)",
      bootstrap.run_id,
      bootstrap.graph_name,
      now,
    );
    this.setMeta("run_count", String(Number(this.meta("run_count") ?? 0) + 1));
  }

  /** One page of the run index, newest first; `page` and `size` are ≥ 1 (the route checks them). */
  async listRuns(page: number, size: number): Promise<RunIndexPage> {
    const total = Number(this.meta("run_count") ?? 0);
    const offset = (page - 1) * size;
    if (offset >= total) return { total, runs: [] };
    const runs = this.sql
      .exec<{ run_id: string; graph_name: string; created_at: number }>(
        "SELECT run_id, graph_name, created_at FROM runs ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
        size,
        offset,
      )
      .toArray()
      .map((r) => ({ run_id: r.run_id, graph_name: r.graph_name, created_at: isoNaive(r.created_at) }));
    return { total, runs };
  }

  // ---- timers ----

  /** Fires what is due, then re-arms. Today the cron schedules and fires are the actor's only timers. */
  override async alarm(): Promise<void> {
    try {
      await this.cron.runDue(Date.now());
    } finally {
      await this.arm();
    }
  }

  /**
   * The actor's one alarm, at the earliest due time of every timer table. A timer kind added later adds
   * its earliest time to this list. An alarm that goes off early or for a removed timer finds nothing due.
   */
  private async arm(): Promise<void> {
    const next = earliest([this.cron.nextWake()]);
    if (next === null) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    if ((await this.ctx.storage.getAlarm()) !== next) await this.ctx.storage.setAlarm(next);
  }

  // ---- directory (only on the DIRECTORY_ACTOR_NAME instance) ----

  async addToDirectory(namespace: string): Promise<void> {
    this.sql.exec("INSERT OR IGNORE INTO directory (namespace) VALUES (?)", namespace);
  }

  /** Namespaces that registered nodes, in code-point order (SQLite's binary collation on UTF-8). */
  async listDirectory(): Promise<string[]> {
    return this.sql
      .exec<{ namespace: string }>("SELECT namespace FROM directory WHERE namespace != '' ORDER BY namespace")
      .toArray()
      .map((r) => r.namespace);
  }
}

function invalidTemplate(message: string): ApiError {
  return new ApiError(400, `Error validating graph template: ${message}`);
}
