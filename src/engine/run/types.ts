// The run engine's data model and the small driver interface it talks to. The run actor implements
// RunStore over its SQLite storage; tests use the in-memory store. Every method is synchronous because
// the actor calls the engine inside one `transactionSync`.
import type { StateStatus } from "../model";

/** One ancestor on a state's spawning chain: identifier, the ancestor state's seq, and its execution. */
export type ParentLink = readonly [identifier: string, seq: number, execSeq: number];

export interface StateRow {
  seq: number;
  identifier: string;
  node_name: string;
  namespace: string;
  status: StateStatus;
  inputs: Record<string, string>;
  outputs: Record<string, unknown>;
  error: string | null;
  data: Record<string, unknown>;
  /** Ancestors, root first, direct predecessor last (Exosphere's ordered `parents`). */
  parents: ParentLink[];
  /** The execution this state belongs to: its own seq, or the head's seq for a fan-out clone. */
  exec_seq: number;
  /** Which output of its execution this state carries (0 for the head). */
  fanout_index: number;
  /** Sortable key: the (execution, output index) pairs of every ancestor; see lineage.ts. */
  lineage: string;
  retry_count: number;
  fanout_id: string;
  manual_retry_fanout_id: string;
  does_unites: boolean;
  /**
   * A unite state recorded without running: its barrier failed, or its inputs could not be built. Such a
   * state is never dispatched and cannot be retried by itself (its failed branches can).
   */
  never_ran: boolean;
  /**
   * Outputs of this execution applied so far (a head only). A fan-out reported in pages stays EXECUTED,
   * with its barriers held open, until the page marked last arrives.
   */
  reported_outputs: number;
  /** Epoch ms before which the state must not be dispatched. */
  enqueue_after: number;
  created_at: number;
  updated_at: number;
}

export type StatePatch = Partial<
  Pick<
    StateRow,
    | "status"
    | "inputs"
    | "outputs"
    | "error"
    | "data"
    | "enqueue_after"
    | "fanout_index"
    | "reported_outputs"
    | "never_ran"
  >
> & {
  /** Dispatch bookkeeping the engine passes through on a claim: when the runtime's lease ends. */
  lease_expires?: number | null;
  /** The delivery a push claim belongs to (the sending actor's epoch); null for a pull claim. */
  delivery?: number | null;
};

/** A unite barrier: one per (unite node, execution of its target). */
export interface Barrier {
  unite: string;
  exec_seq: number;
  /** States of the subtree not yet terminal, plus not-yet-fired inner barriers (reservations). */
  pending: number;
  /** Subtree states that ended ERRORED or NEXT_CREATED_ERROR. */
  failed: number;
  /** A few failed state seqs, to name them in the unite's error. */
  failed_sample: number[];
  fired: boolean;
  /**
   * Set while an ALL_SUCCESS barrier rests failed: the seq of the ERRORED unite state it recorded. Such a
   * barrier keeps counting, so that when manual retries of its failed branches succeed it fires again.
   */
  failed_unite?: number;
}

/**
 * Where the branches of a wide fan-out go (design §6, branch shards). Only the run actor (shard 0) hands
 * branches out: member `i` of an execution goes to shard `1 + i % count` once `i >= from`.
 */
export interface ShardPlan {
  count: number;
  from: number;
}

/** A node a fan-out member spawns a child of. */
export interface SpawnedNode {
  identifier: string;
  node_name: string;
  namespace: string;
}

/**
 * One fan-out member handed to a shard: its clone's output index and outputs, and the inputs of the
 * children it spawns, already rendered by the run actor (`inputs[i]` for the batch's `spawn[i]`). The
 * shard gives the clone and the children their fan-out ids.
 */
export interface SpawnedMember {
  fanout_index: number;
  outputs: Record<string, unknown>;
  inputs: Record<string, string>[];
}

/**
 * Branches of one page of an execution handed to one shard. The run actor has already counted them
 * (clones SUCCESS, children CREATED) and counted the children pending in its barriers, so the shard only
 * writes the rows; what happens to them afterwards reaches the run actor as settle deltas. Every member
 * of a batch spawns children of the same nodes (`spawn`), named once per batch.
 */
export interface SpawnBatch {
  head: Pick<StateRow, "seq" | "identifier" | "node_name" | "namespace" | "parents" | "lineage">;
  spawn: SpawnedNode[];
  members: SpawnedMember[];
  /**
   * The children (by node identifier) the run actor counted QUEUED, as the shard will write them born
   * claimed, rather than CREATED. Absent: all counted CREATED. The shard moves the count of any child
   * it writes otherwise, so that the run's counts always end up right.
   */
  queued?: string[];
}

/** A change to a barrier kept by another actor (the run actor, for an execution it holds). */
export interface BarrierDelta {
  unite: string;
  exec_seq: number;
  pending: number;
  failed: number;
  failed_add: number[];
  failed_remove: number[];
}

/** What a shard's transactions changed in the run's counts and in the run actor's barriers. */
export interface SettleDelta {
  counts: Partial<Record<StateStatus, number>>;
  barriers: BarrierDelta[];
  /** Errored states a barrier in the shard tolerated (absent: none). */
  tolerated?: number;
}

export interface RunStore {
  /** Allocates the next state seq of this run. */
  nextSeq(): number;
  getState(seq: number): StateRow | undefined;
  /** Optional: reads these states' rows together, ahead of one `getState` each (a batch of reports). */
  prefetch?(seqs: readonly number[]): void;
  /** Just the outputs of a state (ancestor lookups must not parse whole rows, e.g. a splitter's inputs). */
  outputsOf(seq: number): Record<string, unknown> | undefined;
  insertState(row: StateRow): void;
  /**
   * Optional (an actor's store): inserts a QUEUED state already claimed for a push delivery (a wide
   * fan-out's branch, born claimed), leased until `leaseExpires` and tagged with `delivery`.
   */
  insertClaimed?(row: StateRow, leaseExpires: number, delivery: number): void;
  /** Optional: records states born claimed in this transaction as dispatch rounds, sent after the commit. */
  bornClaimed?(states: StateRow[]): void;
  updateState(seq: number, patch: StatePatch, now: number): void;
  getBarrier(unite: string, execSeq: number): Barrier | undefined;
  putBarrier(barrier: Barrier): void;
  /** The run's store value for `key`, as given at trigger time. */
  storeValue(key: string): string | undefined;
  /**
   * `field` of every SUCCESS state of node `identifier` whose lineage starts with `prefix` that has it,
   * in lineage order (fan-out order), each as its JSON text.
   */
  subtreeTexts(identifier: string, prefix: string, field: string): string[];
  /** Seqs of the fan-out clones of execution `execSeq` (a rare, operator-driven call: manual retry). */
  clonesOf(execSeq: number): number[];
  /** Whether a state of `identifier` with this fan-out id and retry count exists (manual-retry dedupe). */
  hasAttempt(identifier: string, fanoutId: string, retryCount: number): boolean;
  /** Adds `delta` to the run's count of states in `status`. */
  count(status: StateStatus, delta: number): void;
  /** Records that state `seq` must be dispatched once `due` (epoch ms) has passed. */
  ready(seq: number, due: number): void;
  /**
   * Hands a batch of branches to shard `shard`, durably, with this transaction (run actor only). `text`,
   * when given, is `JSON.stringify(batch)` already built by the caller.
   */
  forward(shard: number, batch: SpawnBatch, text?: string): void;
  /** Records a change to a barrier another actor keeps, sent with this transaction's settle delta. */
  remoteBarrier(delta: BarrierDelta): void;
  /**
   * Records that unite state `seq` waits for its array inputs to be gathered from the run's shards; it is
   * dispatched once they are (run actor only).
   */
  gather(seq: number): void;
  /** Whether any branch of this run was handed to a shard (then unites gather from the shards). */
  usesShards(): boolean;
  /** Whether this actor's part of the run was cancelled (run control). */
  isCancelled(): boolean;
  /**
   * Marks this actor's part of the run cancelled and moves every CREATED, QUEUED or EXECUTED state to
   * CANCELLED with `error`, in bulk (one statement, not one engine step per state); answers how many
   * states left each status. It changes no counter: the engine counts the moves.
   */
  cancelPending(error: string, now: number): Partial<Record<StateStatus, number>>;
  /** Adds `n` errored states that a unite's barrier tolerated (the run does not fail for them). */
  tolerate(n: number): void;
}

/**
 * Where a page of a fan-out report sits in the execution's output list. A report without one is the
 * whole list (offset 0, last). Pages apply in order: a page that starts past the outputs applied so far
 * is refused (`page_gap`); one that ends within them changes nothing (`duplicate_page`).
 */
export interface OutputPage {
  /** Index of this page's first output in the execution's output list. */
  offset: number;
  /** Whether more pages follow. */
  more: boolean;
}

export type Report =
  | { type: "executed"; seq: number; outputs: Record<string, unknown>[]; page?: OutputPage }
  | { type: "errored"; seq: number; error: string }
  | { type: "pruned"; seq: number; data: Record<string, unknown> }
  | { type: "requeue"; seq: number; delayMs: number };

/** What happened to one report; `applied: false` means the state had moved on and nothing changed. */
export type ReportOutcome =
  | { applied: true; status: StateStatus; retryCreated?: boolean; enqueueAfter: number }
  | {
      applied: false;
      reason: "not_found" | "not_queued" | "terminal" | "page_gap" | "duplicate_page";
      status?: StateStatus;
    };
