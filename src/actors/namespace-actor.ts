// One actor per namespace (`env.NAMESPACE.getByName(namespace)`): registered nodes, graph templates with
// their encrypted secrets, the index of runs used for listing, and cron triggers. The rules live in
// src/engine; this class wires the parts (one file per concern, namespace-*.ts) and answers RPCs.
import { DurableObject } from "cloudflare:workers";
import type {
  GraphTemplateInput,
  GraphTemplateRecord,
  NodeRegistryRpc,
  RegisteredNodeRecord,
  RegisterOptions,
  RunBootstrap,
  RunIndexPage,
  TransportedNodeRegistration,
  TriggerAnswer,
} from "../contracts";
import { queueBinding } from "../dispatch/queues";
import { type Result, toResult, UnprocessableError } from "../engine/errors";
import type { RegisteredNode } from "../engine/model";
import { nodeKey } from "../engine/run/snapshot";
import { verifyGraph } from "../engine/template/registry-check";
import type { TriggerBody } from "../engine/template/request-schema";
import { GraphStructureError, validateGraphStructure } from "../engine/template/structure";
import { directoryStub } from "./directory-actor";
import { OneAlarm } from "./namespace-alarm";
import { NamespaceCron } from "./namespace-cron";
import { GraphTemplates } from "./namespace-graphs";
import { NamespaceMeta } from "./namespace-meta";
import { NodeRegistry } from "./namespace-registry";
import { NamespaceRuns } from "./namespace-runs";
import { legacyDirectoryRows, migrateNamespaceSchema } from "./namespace-schema";
import { type NodeServing, NodesSeen } from "./namespace-seen";
import { RunStarts } from "./namespace-starts";
import { type KeyedRun, TriggerKeys, triggerFingerprint } from "./namespace-trigger-keys";

/**
 * The actor as its callers see it. Every method takes and returns plain data (structured clone), so the
 * class's own signatures describe the stub exactly; workerd's generic RPC typing would turn the JSON
 * values (`unknown` fields such as node inputs and schemas) into `never`.
 */
export type NamespaceActorRpc = Omit<NamespaceActor, keyof DurableObject<Env>>;

export function namespaceStub(env: Env, namespace: string): NamespaceActorRpc {
  return env.NAMESPACE.getByName(namespace) as unknown as NamespaceActorRpc;
}

export class NamespaceActor extends DurableObject<Env> implements NodeRegistryRpc {
  private readonly meta: NamespaceMeta;
  private readonly registry: NodeRegistry;
  private readonly cron: NamespaceCron;
  private readonly graphs: GraphTemplates;
  private readonly runs: NamespaceRuns;
  private readonly starts: RunStarts;
  private readonly keys: TriggerKeys;
  private readonly alarms: OneAlarm;
  private readonly seen: NodesSeen;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    this.meta = new NamespaceMeta(sql);
    this.registry = new NodeRegistry(sql, (ns, names) =>
      namespaceStub(env, ns).getRegisteredNodes(ns, names),
    );
    this.cron = new NamespaceCron({
      ctx,
      env,
      namespace: () => this.meta.get("namespace"),
      snapshotRun: (namespace, graphName, body, now) => this.runs.snapshot(namespace, graphName, body, now),
      recordRun: (bootstrap, now) => this.recordRun(bootstrap, now),
      recordStart: (bootstrap, now) => this.starts.add(bootstrap, now),
      startRun: (runId) => this.starts.start(runId),
    });
    this.graphs = new GraphTemplates(sql, this.cron);
    this.runs = new NamespaceRuns(
      sql,
      this.meta,
      this.graphs,
      this.registry,
      (name) => queueBinding(env, name) !== null,
    );
    this.keys = new TriggerKeys(sql);
    this.seen = new NodesSeen(sql);
    this.starts = new RunStarts({
      ctx,
      env,
      forgetRun: (runId) => {
        this.runs.forget(runId);
        this.keys.forgetRun(runId);
      },
    });
    this.alarms = new OneAlarm(ctx.storage, [() => this.cron.nextWake(), () => this.starts.nextWake()]);
    void ctx.blockConcurrencyWhile(async () => {
      this.migrate();
      // Always: it also learns the armed time, and re-arms for anything a crash left without an alarm.
      await this.alarms.arm();
    });
  }

  /** Creates or upgrades the schema; true when cron schedules were backfilled (the alarm is armed anyway). */
  private migrate(): boolean {
    return migrateNamespaceSchema(this.ctx.storage, this.meta, this.cron);
  }

  // ---- registered nodes ----

  /**
   * Registers nodes (one transaction); by default whoever registers a node last serves it. With
   * `keepOthers`, a node that another runtime registered is left to it (how a runtime Worker re-registers
   * on its own). The first registration lists the namespace in the directory.
   */
  async registerNodes(
    namespace: string,
    runtimeName: string,
    nodes: TransportedNodeRegistration[],
    options: RegisterOptions = {},
  ): Promise<void> {
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      this.meta.set("namespace", namespace);
      this.registry.register(runtimeName, nodes, options, now);
    });
    // Once per namespace, off every hot path. If the directory call fails the flag stays unset and the
    // next registration tries again; the registration itself is already committed.
    if (nodes.length > 0 && this.meta.get("listed_in_directory") === undefined) {
      await directoryStub(this.env).add(namespace);
      this.meta.set("listed_in_directory", "1");
    }
  }

  async listNodes(namespace: string): Promise<RegisteredNodeRecord[]> {
    const nodes = this.registry.list(namespace);
    const serving = this.seen.serving(nodes.map((n) => n.name));
    return nodes.map((n) => ({ ...n, last_seen_at: serving.get(n.name)?.last_seen_at ?? null }));
  }

  /** A runtime served these nodes just now (polled for them, or ran a batch of them). */
  async nodesSeen(names: string[]): Promise<void> {
    this.seen.record(names, Date.now());
  }

  /** Who serves each of `names` and when a runtime last did (absent: not registered). */
  async nodesServing(names: string[]): Promise<Record<string, NodeServing>> {
    return Object.fromEntries(this.seen.serving(names));
  }

  /** The registered nodes among `names` (others are simply absent from the answer). */
  async getRegisteredNodes(namespace: string, names: string[]): Promise<RegisteredNode[]> {
    return this.registry.find(namespace, names);
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
      if (fieldErrors.length > 0) throw new GraphStructureError(fieldErrors);
      validateGraphStructure(template.nodes, template.store_config);

      const registry = await this.registry.forTemplate(namespace, template.nodes);
      const errors = verifyGraph(template.nodes, Object.keys(template.secrets), (name, ns) =>
        registry.get(nodeKey(ns, name)),
      );

      // One transaction: the read of the previous version, the write and the cron schedules are atomic.
      const now = Date.now();
      this.ctx.storage.transactionSync(() => {
        this.meta.set("namespace", namespace);
        this.graphs.write(graphName, template, errors, now);
      });
      await this.alarms.arm();
      const stored = this.graphs.get(namespace, graphName);
      if (stored === null) throw new Error("graph template vanished inside its own write");
      return stored;
    });
  }

  async getGraph(namespace: string, graphName: string): Promise<GraphTemplateRecord | null> {
    return this.graphs.get(namespace, graphName);
  }

  async listGraphs(namespace: string): Promise<GraphTemplateRecord[]> {
    return this.graphs.list(namespace);
  }

  // ---- runs ----

  /**
   * Triggers a run: snapshots the current template and registry, records the run (index entry, pending
   * start, idempotency key) in one transaction, then starts the run actor. The answer comes once that
   * transaction has committed: if the start fails or this actor dies before it, the alarm starts the run
   * (see namespace-starts.ts), so the run id answered always comes to name a run. With an idempotency key
   * seen within 24 hours, the answer is the first request's run, and nothing else happens.
   */
  async trigger(
    namespace: string,
    graphName: string,
    body: TriggerBody,
    idempotencyKey?: string,
  ): Promise<Result<TriggerAnswer>> {
    return toResult(async () => {
      const fingerprint =
        idempotencyKey === undefined ? undefined : await triggerFingerprint(graphName, body);
      const keyed = () =>
        idempotencyKey === undefined || fingerprint === undefined
          ? undefined
          : this.replay(idempotencyKey, fingerprint, Date.now());
      const earlier = keyed();
      if (earlier) return this.replayed(earlier);

      const now = Date.now();
      const bootstrap = await this.runs.snapshot(namespace, graphName, body, now);
      // Checked again inside the transaction: a request with the same key may have recorded its run while
      // this one was snapshotting.
      const recorded = this.ctx.storage.transactionSync(() => {
        const first = keyed();
        if (first) return { kind: "raced", run: first } as const;
        const due = this.recordRun(bootstrap, now);
        if (idempotencyKey !== undefined && fingerprint !== undefined) {
          const warnings = bootstrap.warnings ?? [];
          this.keys.add(idempotencyKey, { fingerprint, run_id: bootstrap.run_id, warnings }, now);
        }
        return { kind: "recorded", due } as const;
      });
      if (recorded.kind === "raced") return this.replayed(recorded.run);
      // Requested in the same turn as the commit, so the two become durable together.
      await this.alarms.noLaterThan(recorded.due);
      await this.starts.start(bootstrap.run_id);
      return {
        run_id: bootstrap.run_id,
        replayed: false,
        ...(bootstrap.warnings ? { warnings: bootstrap.warnings } : {}),
      };
    });
  }

  /**
   * The first half of a trigger: snapshots and records a new run whose start is pending, without starting
   * it; answers the run's bootstrap. The alarm starts it if nothing else does (and `trigger` does both).
   */
  async prepareRun(namespace: string, graphName: string, body: TriggerBody): Promise<Result<RunBootstrap>> {
    return toResult(async () => {
      const now = Date.now();
      const bootstrap = await this.runs.snapshot(namespace, graphName, body, now);
      const due = this.ctx.storage.transactionSync(() => this.recordRun(bootstrap, now));
      await this.alarms.noLaterThan(due);
      return bootstrap;
    });
  }

  /**
   * Indexes a run and records its pending start; answers when the alarm must start it if nothing else
   * does. MUST be called inside a transaction.
   */
  private recordRun(bootstrap: RunBootstrap, now: number): number {
    this.runs.record(bootstrap, now);
    return this.starts.add(bootstrap, now);
  }

  /** The run a live key started, or a 422 when the key came with a different request. */
  private replay(key: string, fingerprint: string, now: number): KeyedRun | undefined {
    const earlier = this.keys.find(key, now);
    if (earlier !== undefined && earlier.fingerprint !== fingerprint) {
      throw new UnprocessableError([
        {
          type: "value_error",
          loc: ["header", "idempotency-key"],
          msg: "Value error, this Idempotency-Key was used within 24 hours for a different trigger request (another graph or body)",
          input: key,
        },
      ]);
    }
    return earlier;
  }

  /** The answer to a keyed request sent again; a start still pending is tried once more on the way. */
  private async replayed(earlier: KeyedRun): Promise<TriggerAnswer> {
    if (this.starts.pending(earlier.run_id)) await this.starts.start(earlier.run_id);
    return {
      run_id: earlier.run_id,
      replayed: true,
      ...(earlier.warnings.length > 0 ? { warnings: earlier.warnings } : {}),
    };
  }

  /**
   * One page of the run index, newest first; `page` and `size` are ≥ 1 (the route checks them). A run
   * whose start is still pending is marked `starting`.
   */
  async listRuns(page: number, size: number): Promise<RunIndexPage> {
    const index = this.runs.page(page, size);
    const starting = this.starts.pendingAmong(index.runs.map((r) => r.run_id));
    if (starting.size === 0) return index;
    return {
      total: index.total,
      runs: index.runs.map((r) => (starting.has(r.run_id) ? { ...r, starting: true } : r)),
    };
  }

  // ---- timers ----

  /** Fires what is due (cron schedules and fires, runs whose start is pending), then re-arms. */
  override async alarm(): Promise<void> {
    this.alarms.fired();
    try {
      await this.cron.runDue(Date.now());
    } finally {
      try {
        await this.starts.runDue(Date.now());
      } finally {
        await this.alarms.arm();
      }
    }
  }

  // ---- the directory's legacy table (see directory-actor.ts) ----

  /** The namespaces of the directory table this instance kept before DirectoryActor; [] when it has none. */
  async legacyDirectory(): Promise<string[]> {
    return legacyDirectoryRows(this.ctx.storage.sql);
  }

  /** Drops the legacy directory table once DirectoryActor has imported it. */
  async dropLegacyDirectory(): Promise<void> {
    this.ctx.storage.sql.exec("DROP TABLE IF EXISTS directory");
  }
}
