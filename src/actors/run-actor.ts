// The run actor: one Durable Object per run. It owns the run's states in SQLite, applies every
// transition through the platform-free engine inside one storage transaction per RPC, and sends ready
// states out through its dispatch outbox.
import { DurableObject } from "cloudflare:workers";
import { runCounts, runStatus } from "../engine/run/counts";
import { RunEngine } from "../engine/run/engine";
import { GraphIndex } from "../engine/run/graph-index";
import type { Report, ReportOutcome } from "../engine/run/types";
import {
  type GraphStructureView,
  graphStructure,
  type NodeDetailsView,
  nodeDetails,
} from "../engine/run/views";
import { decryptSecret, secretsKeyFrom } from "../engine/secrets";
import type { RunBootstrap, RunSummary } from "./contracts";
import { Dispatcher } from "./run-dispatch";
import { type RunMeta, readRunMeta, writeRunMeta } from "./run-meta";
import { migrateRunSchema, SqlRunStore, type StateRecord, toStateRow } from "./run-sql-store";

export interface RunCosts {
  reportRpcs: number;
  rowsWritten: number;
  queueMessages: number;
  sendBatchCalls: number;
}

export class RunActor extends DurableObject<Env> {
  private store!: SqlRunStore;
  private meta: RunMeta | null = null;
  private engine: RunEngine | null = null;
  private dispatcher!: Dispatcher;
  private reportRpcs = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      migrateRunSchema(ctx.storage.sql);
      this.store = new SqlRunStore(ctx.storage.sql);
      this.meta = readRunMeta(ctx.storage.sql);
      this.dispatcher = new Dispatcher({
        ctx,
        env,
        store: this.store,
        runKey: () => this.meta?.run_key ?? null,
        graph: () => (this.meta ? this.runEngine().graph : null),
        claim: (seqs, now) => this.runEngine().claim(seqs, now),
        transact: (fn) => this.transact(fn),
      });
    });
  }

  /** Starts the run. Idempotent: a repeated start of the same run changes nothing. */
  async start(bootstrap: RunBootstrap): Promise<void> {
    if (this.meta) return;
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      const meta = writeRunMeta(this.ctx.storage.sql, bootstrap);
      for (const [key, value] of Object.entries(bootstrap.store)) {
        this.ctx.storage.sql.exec("INSERT INTO store (key, value) VALUES (?, ?)", key, value);
      }
      this.meta = meta;
      this.engine = null;
      this.runEngine().start(bootstrap.root_inputs, bootstrap.start_delay, now);
      this.store.flush();
    });
    await this.dispatcher.flush();
  }

  /** Applies a batch of runtime reports in one transaction; answers one outcome per report. */
  async report(reports: Report[]): Promise<ReportOutcome[]> {
    this.reportRpcs += 1;
    if (!this.meta) return reports.map(() => ({ applied: false, reason: "not_found" }) as const);
    const outcomes = this.transact(() => this.runEngine().apply(reports, Date.now()));
    await this.dispatcher.flush();
    return outcomes;
  }

  /** Inputs of states whose messages carried them by reference. */
  async inputsOf(seqs: number[]): Promise<Record<number, Record<string, string>>> {
    const out: Record<number, Record<string, string>> = {};
    for (const seq of seqs) {
      const state = this.store.getState(seq);
      if (state) out[seq] = state.inputs;
    }
    return out;
  }

  /**
   * Decrypted secrets for states about to execute: for each state, exactly the secrets its node declared
   * (design §4, FIX), never the whole graph's.
   */
  async secretsOf(seqs: number[]): Promise<Record<number, Record<string, string>>> {
    const meta = this.meta;
    if (!meta) return {};
    const key = await secretsKeyFrom(
      (this.env as { SECRETS_ENCRYPTION_KEY?: string }).SECRETS_ENCRYPTION_KEY,
    );
    const graph = this.runEngine().graph;
    const out: Record<number, Record<string, string>> = {};
    for (const seq of seqs) {
      const state = this.store.getState(seq);
      if (!state) continue;
      const declared = graph.info(graph.node(state.identifier))?.secrets ?? [];
      const secrets: Record<string, string> = {};
      for (const name of declared) {
        const ciphertext = meta.template.secrets[name];
        if (ciphertext !== undefined) secrets[name] = await decryptSecret(key, ciphertext);
      }
      out[seq] = secrets;
    }
    return out;
  }

  async summary(): Promise<RunSummary | null> {
    if (!this.meta) return null;
    const counts = runCounts(this.store.counts());
    return {
      run_id: this.meta.run_id,
      graph_name: this.meta.graph_name,
      ...counts,
      status: runStatus(counts),
      created_at: this.meta.created_at,
    };
  }

  /** The run-graph view of the states that live in `namespace` (spec §2.17). */
  async graphView(namespace: string): Promise<GraphStructureView> {
    const meta = this.meta;
    const rows = this.ctx.storage.sql.exec<StateRecord>(
      "SELECT * FROM states WHERE namespace = ? ORDER BY seq",
      namespace,
    );
    function* states() {
      for (const r of rows) yield toStateRow(r);
    }
    return graphStructure(meta?.run_key ?? "", meta?.graph_name ?? "", states());
  }

  /** One state's details, if it belongs to this run, graph and namespace (spec §2.18). */
  async stateDetails(seq: number, graphName: string, namespace: string): Promise<NodeDetailsView | null> {
    const meta = this.meta;
    const state = this.store.getState(seq);
    if (!meta || !state || meta.graph_name !== graphName || state.namespace !== namespace) return null;
    return nodeDetails(meta.run_key, meta.run_id, meta.graph_name, state);
  }

  async costs(): Promise<RunCosts> {
    return { reportRpcs: this.reportRpcs, rowsWritten: this.store.cost.rowsWritten, ...this.dispatcher.cost };
  }

  override async alarm(): Promise<void> {
    await this.dispatcher.flush();
  }

  private runEngine(): RunEngine {
    const meta = this.meta;
    if (!meta) throw new Error("run not started");
    this.engine ??= new RunEngine(this.store, new GraphIndex(meta.template), {
      runKey: meta.run_key,
      namespace: meta.namespace,
      graphName: meta.graph_name,
      retryPolicy: meta.template.retry_policy,
      newFanoutId: () => crypto.randomUUID(),
    });
    return this.engine;
  }

  /** Runs `fn` in one storage transaction, with the engine's counters written in the same one. */
  private transact<T>(fn: () => T): T {
    try {
      return this.ctx.storage.transactionSync(() => {
        const result = fn();
        this.store.flush();
        return result;
      });
    } catch (e) {
      this.store.discard();
      throw e;
    }
  }
}
