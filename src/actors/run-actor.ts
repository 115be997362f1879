// The run actor: one Durable Object per run. It owns the run's states in SQLite, applies every
// transition through the platform-free engine inside one storage transaction per RPC, and sends ready
// states out through its dispatch outbox.
import { DurableObject } from "cloudflare:workers";
import { ok, type Result, toResult } from "../engine/errors";
import { stateIdOf } from "../engine/ids";
import { MAX_LEASE_EXPIRIES_PER_ALARM } from "../engine/limits";
import { runCounts, runStatus } from "../engine/run/counts";
import { RunEngine } from "../engine/run/engine";
import { GraphIndex } from "../engine/run/graph-index";
import type { Report, ReportOutcome, StateRow } from "../engine/run/types";
import {
  type GraphStructureView,
  graphStructure,
  type NodeDetailsView,
  nodeDetails,
} from "../engine/run/views";
import { decryptSecret, secretsKeyFrom } from "../engine/secrets";
import { isoNaive } from "../engine/time";
import type { PulledState, RunBootstrap, RunSummary } from "./contracts";
import { DEFAULT_PULL_LEASE_MS, Dispatcher } from "./run-dispatch";
import { type RunMeta, readRunMeta, writeRunMeta } from "./run-meta";
import {
  migrateRunSchema,
  runSchemaExists,
  SqlRunStore,
  type StateRecord,
  toStateRow,
} from "./run-sql-store";

export const LEASE_EXPIRED = "lease expired";
/** How soon the alarm dispatches newly ready states if the dispatch right after the commit never happens. */
const DISPATCH_SAFETY_MS = 5_000;

export interface RunCosts {
  reportRpcs: number;
  /** States whose inputs a consumer fetched because they were too large to travel in the message. */
  inputsByReference: number;
  rowsWritten: number;
  queueMessages: number;
  sendBatchCalls: number;
  readyQueueOffers: number;
}

export class RunActor extends DurableObject<Env> {
  // Set by `open`; every method below reads them only once `meta` (a started run) exists.
  private store!: SqlRunStore;
  private meta: RunMeta | null = null;
  private engine: RunEngine | null = null;
  private dispatcher!: Dispatcher;
  private opened = false;
  private reportRpcs = 0;
  private inputsByReference = 0;
  /** The alarm time as last written (null: none armed), so most transitions need no alarm write. */
  private alarmAt: number | null = null;
  private alarmWrite: Promise<void> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
      // An id nobody started (a mistyped or forged state id) gets no schema and no storage at all.
      if (runSchemaExists(ctx.storage.sql)) this.open();
    });
  }

  /** Creates (or upgrades) the schema and loads the run. Called for a started run, or by `start`. */
  private open(): void {
    const { ctx, env } = this;
    migrateRunSchema(ctx.storage.sql);
    this.opened = true;
    this.store = new SqlRunStore(ctx.storage.sql);
    this.meta = readRunMeta(ctx.storage.sql);
    this.dispatcher = new Dispatcher({
      ctx,
      env,
      store: this.store,
      runKey: () => this.meta?.run_key ?? null,
      graph: () => (this.meta ? this.runEngine().graph : null),
      claim: (states, now, leaseExpires) => this.runEngine().claim(states, now, leaseExpires),
      transact: (fn) => this.transact(fn),
      scheduleAlarm: (at) => {
        this.scheduleAlarm(at);
        return this.alarmWrite;
      },
    });
  }

  /** Starts the run. Idempotent: a repeated start of the same run changes nothing. */
  async start(bootstrap: RunBootstrap): Promise<void> {
    if (this.meta) return;
    if (!this.opened) this.open();
    const now = Date.now();
    try {
      this.transact(() => {
        const meta = writeRunMeta(this.ctx.storage.sql, bootstrap);
        for (const [key, value] of Object.entries(bootstrap.store)) {
          this.ctx.storage.sql.exec("INSERT INTO store (key, value) VALUES (?, ?)", key, value);
        }
        this.meta = meta;
        this.engine = null;
        this.runEngine().start(bootstrap.root_inputs, bootstrap.start_delay, now);
      });
    } catch (e) {
      // The transaction rolled back: the actor must not look started.
      this.meta = null;
      this.engine = null;
      throw e;
    }
    await this.dispatcher.flush();
  }

  /** Applies a batch of runtime reports in one transaction; answers one outcome per report. */
  async report(reports: Report[], namespace?: string): Promise<ReportOutcome[]> {
    this.reportRpcs += 1;
    if (!this.meta) return reports.map(() => ({ applied: false, reason: "not_found" }) as const);
    const outcomes = this.transact(() => this.runEngine().apply(reports, Date.now(), namespace));
    await this.dispatcher.flush();
    return outcomes;
  }

  /**
   * Claims ready states for a pull runtime (CREATED → QUEUED) with a lease; states that moved on
   * (claimed by someone else, requeued for later, finished) are left out.
   */
  async claimPulled(seqs: number[]): Promise<PulledState[]> {
    const meta = this.meta;
    if (!meta) return [];
    const now = Date.now();
    const lease = now + this.dispatcher.leaseMs("PULL_LEASE_MS", DEFAULT_PULL_LEASE_MS);
    const claimed = this.transact(() => {
      const due: StateRow[] = [];
      const early: number[] = [];
      for (const seq of seqs) {
        const state = this.store.getState(seq);
        if (state === undefined) continue;
        if (state.enqueue_after <= now) due.push(state);
        else if (state.status === "CREATED") early.push(seq);
      }
      // Handed out before it was due (the ready queue's clock ran ahead): its ref is acked by the
      // route, so it must be offered again when due rather than wait for a ref that no longer exists.
      this.store.markOffered(early, false);
      return this.runEngine()
        .claim(due, now, lease)
        .map((state) => ({
          state_id: stateIdOf(meta.run_key, state.seq),
          node_name: state.node_name,
          identifier: state.identifier,
          inputs: state.inputs,
          created_at: isoNaive(state.created_at),
        }));
    });
    // The lease must be able to expire even if nothing else is scheduled on this run.
    if (claimed.length > 0) {
      this.scheduleAlarm(lease);
      await this.alarmWrite;
    }
    return claimed;
  }

  /**
   * Manual retry of one state (spec §2.14 with our status rule); answers the new state's id. With
   * `namespace`, a state of another namespace is not found (Exosphere checks it for this route).
   */
  async manualRetry(seq: number, fanoutId: string, namespace?: string): Promise<Result<{ id: string }>> {
    const meta = this.meta;
    if (!meta) return { ok: false, status: 404, detail: "State not found" };
    if (namespace !== undefined && this.store.getState(seq)?.namespace !== namespace) {
      return { ok: false, status: 404, detail: "State not found" };
    }
    const result = await toResult(() =>
      this.transact(() => this.runEngine().manualRetry(seq, fanoutId, Date.now())),
    );
    if (!result.ok) return result;
    await this.dispatcher.flush();
    return ok({ id: stateIdOf(meta.run_key, result.value.seq) });
  }

  /** Treats every expired lease as an errored report ("lease expired"), through the retry policy. */
  async expireLeases(now: number = Date.now()): Promise<number> {
    if (!this.meta) return 0;
    const expired = this.transact(() => {
      const seqs = this.store.expiredLeases(now, MAX_LEASE_EXPIRIES_PER_ALARM);
      if (seqs.length === 0) return 0;
      // `now` only decides which leases count as expired; the transition happens at the real time, so a
      // retry's backoff is measured from the moment the expiry is handled.
      const outcomes = this.runEngine().apply(
        seqs.map((seq) => ({ type: "errored", seq, error: LEASE_EXPIRED })),
        Date.now(),
      );
      return outcomes.filter((o) => o.applied).length;
    });
    // Retries the expiry created are dispatched now, whoever called (the alarm or an operator RPC).
    if (expired > 0) await this.dispatcher.flush();
    return expired;
  }

  /** Inputs of states whose messages carried them by reference. */
  async inputsOf(seqs: number[]): Promise<Record<number, Record<string, string>>> {
    const out: Record<number, Record<string, string>> = {};
    if (!this.meta) return out;
    this.inputsByReference += seqs.length;
    for (const seq of seqs) {
      const state = this.store.getState(seq);
      if (state) out[seq] = state.inputs;
    }
    return out;
  }

  /**
   * Decrypted secrets for states about to execute: for each state, exactly the secrets its node declared
   * (design §4, FIX), never the whole graph's. With `namespace`, states of other namespaces are left out.
   */
  async secretsOf(seqs: number[], namespace?: string): Promise<Record<number, Record<string, string>>> {
    const meta = this.meta;
    if (!meta) return {};
    const key = await secretsKeyFrom(
      (this.env as { SECRETS_ENCRYPTION_KEY?: string }).SECRETS_ENCRYPTION_KEY,
    );
    const graph = this.runEngine().graph;
    const out: Record<number, Record<string, string>> = {};
    for (const seq of seqs) {
      const state = this.store.getState(seq);
      if (!state || (namespace !== undefined && state.namespace !== namespace)) continue;
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
      ...(this.meta.warnings ? { warnings: this.meta.warnings } : {}),
    };
  }

  /** The run-graph view of the states that live in `namespace` (spec §2.17). */
  async graphView(namespace: string): Promise<GraphStructureView> {
    const meta = this.meta;
    if (!meta) return graphStructure("", "", []);
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
    if (!meta) return null;
    const state = this.store.getState(seq);
    if (!state || meta.graph_name !== graphName || state.namespace !== namespace) return null;
    return nodeDetails(meta.run_key, meta.run_id, meta.graph_name, state);
  }

  async costs(): Promise<RunCosts> {
    return {
      reportRpcs: this.reportRpcs,
      inputsByReference: this.inputsByReference,
      rowsWritten: this.opened ? this.store.cost.rowsWritten : 0,
      ...(this.opened ? this.dispatcher.cost : { queueMessages: 0, sendBatchCalls: 0, readyQueueOffers: 0 }),
    };
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null; // a running alarm is no longer armed
    try {
      await this.expireLeases();
    } catch (e) {
      // Dispatch must go on even if expiring leases failed; the next alarm tries the expiry again.
      console.error("expiring leases failed", e instanceof Error ? e.message : e);
    }
    if (this.meta) await this.dispatcher.flush();
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
    let result: T;
    try {
      result = this.ctx.storage.transactionSync(() => {
        const value = fn();
        this.store.flush();
        return value;
      });
    } catch (e) {
      this.store.discard();
      throw e;
    }
    // Requested in the same turn as the commit, so the ready states and the alarm that guarantees their
    // dispatch become durable together: a crash before the send still leaves an alarm to send them.
    if (this.store.takeReadyTouched()) this.scheduleAlarm(Date.now() + DISPATCH_SAFETY_MS);
    return result;
  }

  /** Moves the alarm earlier when `at` is earlier than the one armed (one alarm serves every timer). */
  private scheduleAlarm(at: number): void {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    this.alarmWrite = this.ctx.storage.setAlarm(at).catch((e) => {
      this.alarmAt = null; // not armed after all: the next transition asks again
      throw e;
    });
  }
}
