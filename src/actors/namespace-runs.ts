// The namespace's runs: a new run's bootstrap, snapshotted from the current template and registry, and
// the index of runs that the runs list pages through (newest first).
import type { RunBootstrap, RunIndexPage } from "../contracts";
import { NotFoundError, PayloadTooLargeError, ValidationError } from "../engine/errors";
import { newRunId } from "../engine/ids";
import { exceedsBytes, MAX_RUN_SNAPSHOT_BYTES } from "../engine/limits";
import type { RegisteredNode } from "../engine/model";
import { type NodeInfo, nodeKey } from "../engine/run/snapshot";
import type { TriggerBody } from "../engine/template/request-schema";
import { resolveRootInputs } from "../engine/template/root-inputs";
import { findRoot } from "../engine/template/structure";
import { isoNaive } from "../engine/time";
import type { GraphTemplates } from "./namespace-graphs";
import type { NamespaceMeta } from "./namespace-meta";
import type { NodeRegistry } from "./namespace-registry";
import { RunIndexRow } from "./namespace-rows";
import { parseStored } from "./stored";

export class NamespaceRuns {
  constructor(
    private readonly sql: SqlStorage,
    private readonly meta: NamespaceMeta,
    private readonly graphs: GraphTemplates,
    private readonly registry: NodeRegistry,
    /** Whether the engine has the queue producer binding `name` (a push node's ready states go there). */
    private readonly hasQueue: (name: string) => boolean,
  ) {}

  /**
   * The queue a push node's states go to, captured in the run's snapshot so dispatch needs no lookup. A
   * binding the engine lacks (removed from its configuration since, or a registration from before queues
   * were named) refuses the trigger, rather than start a run whose states could never be sent.
   */
  private queueOf(node: RegisteredNode): string {
    if (node.queue === undefined || !this.hasQueue(node.queue)) {
      throw new ValidationError(
        `Node ${node.name} of namespace ${node.namespace} is registered for ${node.queue === undefined ? "no queue" : `queue binding '${node.queue}'`}, ` +
          "which the engine does not have: register its runtime again for one of the engine's queue bindings",
      );
    }
    return node.queue;
  }

  /**
   * A new run's bootstrap from the current template and registry; writes nothing. Throws a DomainError
   * when the graph cannot run (unknown, not VALID, bad trigger inputs).
   */
  async snapshot(
    namespace: string,
    graphName: string,
    body: TriggerBody,
    now: number,
  ): Promise<RunBootstrap> {
    const row = this.graphs.row(graphName);
    if (row === undefined) {
      throw new NotFoundError(`Graph template not found for namespace ${namespace} and graph ${graphName}`);
    }
    if (row.validation_status !== "VALID") throw new ValidationError("Graph template is not valid");
    const { nodes, store_config: storeConfig } = row;
    const root = findRoot(nodes);
    const { inputs, store, warnings } = resolveRootInputs(root, body, storeConfig);

    const registry = await this.registry.forTemplate(namespace, nodes);
    const nodeInfo: Record<string, NodeInfo> = {};
    for (const n of nodes) {
      const key = nodeKey(n.namespace, n.node_name);
      const registered = registry.get(key);
      // A VALID template's nodes were registered when it was verified and registrations are never
      // deleted; the fallback only keeps a hand-edited store from crashing the trigger.
      nodeInfo[key] = registered
        ? {
            transport: registered.transport,
            ...(registered.transport === "queue" ? { queue: this.queueOf(registered) } : {}),
            secrets: registered.secrets,
            inputFields: propertyNames(registered.inputs_schema),
          }
        : { transport: "pull", secrets: [], inputFields: Object.keys(n.inputs) };
    }

    const template = {
      nodes,
      retry_policy: row.retry_policy,
      store_config: storeConfig,
      secrets: row.secrets,
      node_info: nodeInfo,
    };
    // The template was bounded when it was upserted; what the registry adds (each node's input fields)
    // is known only now. The run's meta row must hold it all.
    if (exceedsBytes(JSON.stringify(template), MAX_RUN_SNAPSHOT_BYTES)) {
      throw new PayloadTooLargeError(
        `The snapshot of graph ${graphName} (its template and its nodes' registered fields) is larger than ${MAX_RUN_SNAPSHOT_BYTES} bytes`,
        MAX_RUN_SNAPSHOT_BYTES,
      );
    }

    return {
      run_id: newRunId(),
      namespace,
      graph_name: graphName,
      created_at: isoNaive(now),
      template,
      store,
      root_inputs: inputs,
      start_delay: body.start_delay,
      ...(warnings.length > 0 ? { warnings } : {}),
    };
  }

  /** Adds the run to the index. MUST be called inside a transaction. */
  record(bootstrap: RunBootstrap, now: number): void {
    this.sql.exec(
      "INSERT INTO runs (run_id, graph_name, created_at) VALUES (?, ?, ?)",
      bootstrap.run_id,
      bootstrap.graph_name,
      now,
    );
    this.meta.set("run_count", String(this.meta.number("run_count") + 1));
  }

  /** Takes a run out of the index (one that will never start). MUST be called inside a transaction. */
  forget(runId: string): void {
    if (this.sql.exec("SELECT 1 FROM runs WHERE run_id = ?", runId).toArray().length === 0) return;
    this.sql.exec("DELETE FROM runs WHERE run_id = ?", runId);
    this.meta.set("run_count", String(Math.max(0, this.meta.number("run_count") - 1)));
  }

  /** One page of the run index, newest first; `page` and `size` are ≥ 1 (the route checks them). */
  page(page: number, size: number): RunIndexPage {
    const total = this.meta.number("run_count");
    const offset = (page - 1) * size;
    if (offset >= total) return { total, runs: [] };
    const runs = this.sql
      .exec(
        "SELECT run_id, graph_name, created_at FROM runs ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
        size,
        offset,
      )
      .toArray()
      .map((raw) => {
        const r = parseStored(RunIndexRow, raw, "run index entry");
        return { run_id: r.run_id, graph_name: r.graph_name, created_at: isoNaive(r.created_at) };
      });
    return { total, runs };
  }
}

/** The property names of a registered JSON schema (none when it declares no `properties` object). */
function propertyNames(schema: Record<string, unknown>): string[] {
  const properties = schema.properties;
  return typeof properties === "object" && properties !== null ? Object.keys(properties) : [];
}
