// Named limits, in one place, so that every bound the engine enforces, and every timing it relies on,
// can be found and tuned together.

// ---- the API ----

/** Largest request body the API reads (bytes). Larger bodies get 413 before they are parsed. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * Deepest nesting of arrays and objects a request body may have. JSON.parse accepts any depth, but what
 * follows recurses (structured clone into an actor, JSON.stringify, the 422 detail that echoes the
 * input): a body of 100,000 nested arrays would overflow the stack. 128 is serde_json's default bound,
 * far beyond any graph, schema or output a client sends.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * Longest name a body may carry (characters): node names, identifiers, namespaces inside a graph, secret
 * and store keys, trigger input keys, runtime names, `fanout_id`. Names end up in rows, indexes and
 * actor names; this keeps every one of them small.
 */
export const MAX_NAME_CHARS = 1024;

/** Largest `size` accepted by the runs list: one page asks one run actor per run, in parallel. */
export const MAX_RUNS_PAGE_SIZE = 1000;

/**
 * States one answer of the run-graph route lists (its default and its largest `limit`). A run with more
 * states is read a page at a time; one that fits keeps Exosphere's exact answer.
 */
export const MAX_GRAPH_PAGE_STATES = 10_000;

/** Largest `page` of the runs list: far beyond any real page, small enough that (page - 1) * size is exact. */
export const MAX_RUNS_PAGE = 1_000_000_000;

/**
 * Most reports or state seqs one runtime call (`/v0/runtime/...`, the RuntimeEntrypoint) may carry: a
 * consumer batch of 100 messages of 64 states is 6,400; the body bound limits the bytes.
 */
export const MAX_RUNTIME_CALL_ITEMS = 100_000;

/** Most nodes one registration request may carry (one storage transaction writes them all). */
export const MAX_NODES_PER_REGISTRATION = 1000;

/**
 * Most node names one `states/enqueue` may ask for. Each names a ready-queue actor the poll may wake;
 * a runtime polls for the nodes it serves, a few dozen at most.
 */
export const MAX_ENQUEUE_NODES = 100;

/**
 * Largest `batch_size` of `states/enqueue`. Exosphere leaves it unbounded; here one poll touches at most
 * this many ready-queue refs and claims them in one RPC per run, so a single request stays bounded.
 */
export const MAX_ENQUEUE_BATCH = 1000;

/** Ready-queue take/claim rounds one enqueue request makes while nodes that had more can fill the batch. */
export const MAX_ENQUEUE_ROUNDS = 3;

/** Longest `Idempotency-Key` header a trigger may carry (characters). */
export const MAX_IDEMPOTENCY_KEY_CHARS = 255;

/** How long a trigger's `Idempotency-Key` answers the run its first request started (24 hours). */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 3_600_000;

/** Expired idempotency keys each keyed trigger deletes, so the table stays a day of keys long. */
export const IDEMPOTENCY_KEYS_PURGED_PER_TRIGGER = 100;

/**
 * How soon the namespace actor's alarm starts a recorded run if the start right after the commit never
 * happened or failed (the actor died in between, the run actor was unreachable).
 */
export const START_REPAIR_AFTER_MS = 5_000;

/**
 * The namespace actor's alarm repairs, with the runs due, the covered runs due within this long (see
 * namespace-starts.ts): a stream of triggers wakes it about once per this period, not once per run.
 */
export const START_REPAIR_BATCH_MS = 1_000;

/**
 * Longest delay a client may ask for, `re-enqueue-after` or a trigger's `start_delay` (ten years, in ms):
 * far beyond any polling interval, and small enough that `now + delay` stays a valid alarm time.
 */
export const MAX_DELAY_MS = 10 * 365 * 24 * 3_600_000;
/** A node's `timeout_seconds` is at most a week (a lease longer than that protects nothing). */
export const MAX_TIMEOUT_SECONDS = 7 * 24 * 3_600;

// ---- graphs and states ----

/**
 * Most nodes one graph template may have. Exosphere sets none; its validation (the parents/path sets of
 * spec §4.1.3) grows with the square of a graph's depth, so an unbounded graph could exhaust an isolate.
 */
export const MAX_NODES_PER_GRAPH = 1000;

/**
 * A Durable Object's SQLite row (and string) holds at most 2 MB. Everything stored in one row is bounded
 * below it by the limits that follow, checked at the edge before anything reaches an actor.
 */
export const MAX_ROW_BYTES = 2_000_000;

/**
 * Largest graph template (bytes of the JSON as sent: nodes, secrets, policies, triggers). It is stored in
 * one row, its secrets encrypted (a third larger), and snapshotted into each run's meta row.
 */
export const MAX_GRAPH_TEMPLATE_BYTES = 1_000_000;

/** Most secrets one graph, or one registered node, may declare (each is encrypted on every upsert). */
export const MAX_SECRETS_PER_GRAPH = 100;

/**
 * Largest snapshot of a graph a run keeps (bytes of JSON: the template with encrypted secrets and what the
 * registry says of each node). Checked when a run is prepared, since only then is the registry part known.
 */
export const MAX_RUN_SNAPSHOT_BYTES = 1_500_000;

/** Largest `inputs_schema` or `outputs_schema` of a registered node (bytes of JSON). */
export const MAX_NODE_SCHEMA_BYTES = 64 * 1024;

/** Largest value of one store key (bytes): each key is one row of the run's store. */
export const MAX_STORE_VALUE_BYTES = 1_000_000;

/** Ignored trigger inputs a trigger's warnings name one by one; the rest are counted. */
export const MAX_TRIGGER_WARNINGS = 20;

/**
 * Largest JSON of one stored value of a state (its inputs, one output, prune data, a unite's array input)
 * in bytes. Anything a client sends fits (the body bound is smaller); it stays below the 32 MiB of one
 * Workers RPC message, so a value always travels in one call.
 */
export const MAX_STATE_VALUE_BYTES = 24 * 1024 * 1024;

/**
 * Stored values longer than this (bytes of JSON) are kept in chunks beside the state's row instead of in
 * it: a Durable Object's SQLite row holds at most 2 MB.
 */
export const ROW_VALUE_BYTES = 512_000;

/** Characters per stored chunk of a large value (at most 3 bytes each in UTF-8: under 1 MB a chunk). */
export const VALUE_CHUNK_CHARS = 300_000;

/**
 * Characters of JSON one batch of branches handed to a shard may hold (one outbox row, one RPC); a page
 * whose branches weigh more is handed over in several batches.
 */
export const SPAWN_BATCH_CHARS = 400_000;

/** Default branch shards of a run (`BRANCH_SHARDS`), and the most a run may have. */
export const DEFAULT_BRANCH_SHARDS = 8;
export const MAX_BRANCH_SHARDS = 64;
/** Default output of a fan-out from which its branches go to the shards (`SHARD_FROM_OUTPUT`). */
export const DEFAULT_SHARD_FROM_OUTPUT = 100_000;

/**
 * Outputs per page when a runtime reports a fan-out: each page is one RPC and one transaction in the run
 * actor, so neither grows with the width of the fan-out.
 */
export const REPORT_PAGE_OUTPUTS = 25_000;

/** Longest error message kept on a state (characters); longer ones are cut. */
export const MAX_ERROR_CHARS = 10_000;

// ---- dispatch (the run actor) ----

/** How many ready states one dispatch round hands out (bounds memory on a 100k fan-out). */
export const DISPATCH_ROUND_STATES = 2_000;

/**
 * Rounds one dispatch pass sends before the callers that waited for it go on (a report RPC waits for
 * one pass, never for an unbounded stream of other reports' work).
 */
export const DISPATCH_ROUNDS_PER_PASS = 4;

/** An unconfirmed dispatch round older than this is sent again (after a failed send or a crash). */
export const RESEND_AFTER_MS = 1_000;

/** sendBatch calls in flight at once. */
export const SEND_CONCURRENCY = 4;

/**
 * How soon the alarm dispatches newly ready states if the dispatch right after the commit never happens
 * (the actor died in between).
 */
export const DISPATCH_SAFETY_MS = 5_000;

/** Expired leases one alarm turns into errored reports (the alarm re-arms for the rest). */
export const MAX_LEASE_EXPIRIES_PER_ALARM = 2_000;

/** Ready states packed into one queue message unless DISPATCH_STATES_PER_MESSAGE says otherwise. */
export const DEFAULT_STATES_PER_MESSAGE = 64;

/**
 * The execution lease of a queue-dispatched state: unreported this long after it was sent, it is treated
 * as errored ("lease expired") and goes through the retry policy (a node that really hangs).
 */
export const DEFAULT_PUSH_LEASE_MS = 30 * 60_000;

/**
 * The delivery lease: after an actor restarts, a state it sent before the restart that no consumer confirms
 * (picks up, or keeps heartbeating) within this long is presumed lost with the queue and sent again,
 * without spending a retry.
 */
export const DEFAULT_DELIVERY_LEASE_MS = 10_000;

/** The least delivery lease: consumers heartbeat every PICKUP_HEARTBEAT_MS, well inside it. */
export const MIN_DELIVERY_LEASE_MS = 5_000;

/** How often a push consumer confirms, while it executes a batch, that it still holds the batch's states. */
export const PICKUP_HEARTBEAT_MS = 2_000;

/**
 * A PENDING run none of whose states ended for this long shows which nodes it waits on (the runs list,
 * the live view); clients use it to say what is not being served instead of waiting silently.
 */
export const STALL_NOTICE_MS = 30_000;

/** How often (per isolate and node) a runtime's polls or batches are recorded as the node being served. */
export const NODE_SEEN_EVERY_MS = 5_000;

/** Nodes a waiting run names at most. */
export const MAX_WAITING_NODES = 20;

/**
 * Eager execution (design §6): the lease of a ready state handed to a push consumer in the answer to its
 * report, renewed by the consumer's heartbeats. If it ends (the consumer died), the state goes through
 * the queue instead, with no attempt spent.
 */
export const EAGER_LEASE_MS = 15_000;

/** Ready states one report hands back to run at once, at most. */
export const EAGER_MAX_PER_REPORT = 64;
/**
 * A fan-out page (or a shard's batch) that creates more push branches than one eager answer may carry
 * creates them claimed, each written once, and sends them after its commit: eager execution could not
 * take them, and a claim written later is one more write per branch.
 */
export const BORN_CLAIMED_FROM = EAGER_MAX_PER_REPORT;

/** What one consumer invocation runs eagerly, at most: states, and wall time before it stops asking. */
export const EAGER_MAX_STATES_PER_INVOCATION = 1_024;
export const EAGER_MAX_MS_PER_INVOCATION = 10_000;

/** Lost deliveries one alarm sends again (the alarm re-arms for the rest). */
export const MAX_REDELIVERIES_PER_ALARM = 2_000;

/** Pull runtimes' lease (Exosphere has none; a runtime that dies no longer strands its states). */
export const DEFAULT_PULL_LEASE_MS = 5 * 60_000;

// ---- queue messages (the platform's limits: a message ≤ 128 KB; a batch ≤ 100 messages and ≤ 256 KB) ----

export const MAX_BATCH_MESSAGES = 100;

/** Below the platform's 256 KB per sendBatch, leaving room for per-message overhead. */
export const MAX_BATCH_BYTES = 240_000;

/** Below 128 KB per message. */
export const MAX_MESSAGE_BYTES = 120_000;

/** Inputs larger than this travel by reference (the consumer fetches them from the run actor). */
export const INLINE_INPUTS_BYTES = 16_000;

// ---- pull runtimes (the ready-queue actor) ----

/** A ref taken from a ready queue but never acked (the poller died in between) is handed out again after this. */
export const RETAKE_AFTER_MS = 30_000;

/**
 * How long a `states/enqueue` that finds nothing ready waits for an offer before answering an empty batch
 * (long polling, as SQS's receive wait). A runtime polling every 0.1 s then gets a state the moment it is
 * offered instead of at its next poll, and an idle runtime costs one request per wait, not one per interval.
 */
export const DEFAULT_PULL_WAIT_MS = 1_000;

/** Longest wait a runtime may ask for (`wait_ms`) or the engine may be configured with (`PULL_WAIT_MS`). */
export const MAX_PULL_WAIT_MS = 20_000;

/**
 * Longest a trigger may wait for its run to end before it answers (`wait_ms` in its body, our extension):
 * a client that starts a small run gets its outcome in the same request; a longer run answers `PENDING`
 * and is followed as usual.
 */
export const MAX_TRIGGER_WAIT_MS = 20_000;

/**
 * Offers one waiting `states/enqueue` wakes for before it answers (each wake is one claim attempt; a poll
 * that keeps losing the race for offered refs to other runtimes still answers in bounded work).
 */
export const MAX_ENQUEUE_WAITS = 8;

// ---- watching runs (the live run view) ----

/** How often a live run stream (`states/run/{id}/events`) asks the run actor for its counts. */
export const RUN_EVENTS_INTERVAL_MS = 1_000;

/** A live run stream ends after this long; the client opens a new one (bounds a request's lifetime). */
export const RUN_EVENTS_MAX_MS = 10 * 60_000;

/** A stream sends a comment line after this long without news, so idle proxies keep it open. */
export const RUN_EVENTS_KEEPALIVE_MS = 15_000;

/** A run actor's per-node counts are reused for this long (one count per second, however many watch). */
export const NODE_COUNTS_MAX_AGE_MS = 1_000;
/**
 * ... and, for a big run, for this long per state it holds: a count reads every row of every actor of the
 * run, so a million-branch run (2,000,001 states: 40 s) is not counted again every second while it is
 * watched (polled once a second, its branches took 58 s instead of 31 s).
 */
export const NODE_COUNTS_MS_PER_STATE = 0.02;

// ---- byte sizes ----

const utf8 = new TextEncoder();
/** Any UTF-16 code unit outside ASCII (a surrogate too). */
const NON_ASCII = /[\u0080-\uffff]/;

/** `text`'s length in UTF-8 bytes; without encoding it when it is ASCII (one byte per character). */
export function utf8Length(text: string): number {
  return NON_ASCII.test(text) ? utf8.encode(text).length : text.length;
}

/** Whether `json` is longer than `max` bytes in UTF-8 (cheap when it is clearly shorter). */
export function exceedsBytes(json: string, max: number): boolean {
  if (json.length * 3 <= max) return false;
  return json.length > max || utf8Length(json) > max;
}

/**
 * Whether JSON text nests arrays and objects deeper than `max`. A linear scan of the text (brackets
 * inside strings do not count), so that a hostile body is refused before it is parsed into a structure
 * that would overflow the stack later. Text that is not JSON may be misjudged; JSON.parse refuses it.
 */
export function jsonNestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** Whether a value nests arrays and objects deeper than `max` (iteratively: it cannot overflow itself). */
export function valueNestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [v, depth] = top;
    if (v === null || typeof v !== "object") continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}
