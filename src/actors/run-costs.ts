// A run actor's cost counters (reported by the costs route and the benchmark), persisted with the run so
// that they survive an eviction or a restart of the actor. The counters live where the work happens (the
// store counts rows, the dispatcher sends, the shard link its RPCs); this book adds what was saved before
// this instance started and writes the totals back inside each transaction, as of that transaction.

export interface RunCosts {
  reportRpcs: number;
  /** Transactions that applied report RPCs: concurrent RPCs share one (report-batch.ts). */
  reportCommits: number;
  /** Claims of pulled states (`claimPulled` RPCs from `states/enqueue`). */
  claimRpcs: number;
  /** States whose inputs a consumer fetched because they were too large to travel in the message. */
  inputsByReference: number;
  /** Rows the engine's work wrote (the cost rows themselves are not counted). */
  rowsWritten: number;
  queueMessages: number;
  sendBatchCalls: number;
  readyQueueOffers: number;
  /** Batches of branches the run actor sent to its shards, and settle RPCs the shards sent back. */
  spawnRpcs: number;
  settleRpcs: number;
  /** Consumers' pickup confirmations and heartbeats (one RPC per run per batch, then every few seconds). */
  pickupRpcs: number;
  /** States sent again because a restart lost their delivery (no attempt spent). */
  redeliveries: number;
}

const NAMES: readonly (keyof RunCosts)[] = [
  "reportRpcs",
  "reportCommits",
  "claimRpcs",
  "inputsByReference",
  "rowsWritten",
  "queueMessages",
  "sendBatchCalls",
  "readyQueueOffers",
  "spawnRpcs",
  "settleRpcs",
  "pickupRpcs",
  "redeliveries",
];

export const noCosts = (): RunCosts => ({
  reportRpcs: 0,
  reportCommits: 0,
  claimRpcs: 0,
  inputsByReference: 0,
  rowsWritten: 0,
  queueMessages: 0,
  sendBatchCalls: 0,
  readyQueueOffers: 0,
  spawnRpcs: 0,
  settleRpcs: 0,
  pickupRpcs: 0,
  redeliveries: 0,
});

export function addCosts(a: RunCosts, b: RunCosts): RunCosts {
  const sum = noCosts();
  for (const name of NAMES) sum[name] = a[name] + b[name];
  return sum;
}

export class CostBook {
  private readonly base: RunCosts;
  private readonly saved: RunCosts;

  /** Reads what earlier instances of this actor saved (nothing, in storage created just now: `empty`). */
  constructor(
    private readonly sql: SqlStorage,
    empty = false,
  ) {
    this.base = noCosts();
    for (const row of empty ? [] : sql.exec<{ name: string; n: number }>("SELECT name, n FROM costs")) {
      if ((NAMES as readonly string[]).includes(row.name)) this.base[row.name as keyof RunCosts] = row.n;
    }
    this.saved = { ...this.base };
  }

  /** The run's totals: what was saved before this instance plus what it counted since. */
  total(live: RunCosts): RunCosts {
    return addCosts(this.base, live);
  }

  /** Writes the totals that changed. MUST be called inside the caller's transaction. */
  save(live: RunCosts): void {
    const total = this.total(live);
    const changed = NAMES.filter((name) => total[name] !== this.saved[name]);
    if (changed.length === 0) return;
    // One statement for the counters that changed (a report's transaction changes several).
    this.sql.exec(
      `INSERT INTO costs (name, n) SELECT key, value FROM json_each(?) WHERE true
       ON CONFLICT (name) DO UPDATE SET n = excluded.n`,
      JSON.stringify(Object.fromEntries(changed.map((name) => [name, total[name]]))),
    );
    for (const name of changed) this.saved[name] = total[name];
  }
}
