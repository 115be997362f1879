// Executed reports (design §4, §6): fan-out in pages, zero-width executions, branches handed to shards, and
// the ends of an execution that failed to render its children or stopped sending pages.
import { BORN_CLAIMED_FROM, exceedsBytes, MAX_STATE_VALUE_BYTES, SPAWN_BATCH_CHARS } from "../limits";
import type { NodeTemplate } from "../model";
import { childLineage, MAX_FANOUT } from "./lineage";
import { RenderError, renderInputs } from "./render";
import type { OutputPage, ReportOutcome, SpawnBatch, SpawnedMember, StatePatch, StateRow } from "./types";
import { UniteEngine } from "./unites";

export abstract class FanOutEngine extends UniteEngine {
  /**
   * The JSON text of each spawn batch being filled: its head and nodes (without the closing brace), its
   * members' texts, and their characters (a batch's outbox row is bounded).
   */
  private readonly batchTexts = new WeakMap<
    SpawnBatch,
    { prefix: string; members: string[]; chars: number }
  >();

  /**
   * Applies one page of an execution's outputs (the whole list when it is not paged). The state keeps
   * output 0 and clones carry the others; each member spawns its children. A paged execution stays
   * EXECUTED, holding one reservation in its own barriers, until its last page: no unite over it can
   * fire before every branch exists. Pages apply in order and at most once.
   */
  protected executed(state: StateRow, outputs: Record<string, unknown>[], page: OutputPage): ReportOutcome {
    const opening = state.status === "QUEUED";
    const received = opening ? 0 : state.reported_outputs;
    if (page.offset > received) return { applied: false, reason: "page_gap", status: state.status };
    const fresh = outputs.slice(received - page.offset);
    const end = received + fresh.length;
    if (!opening && fresh.length === 0 && page.more) {
      return { applied: false, reason: "duplicate_page", status: state.status };
    }
    // A bad page fails the attempt (through the retry policy) while nothing of it exists yet; once
    // branches exist it ends the execution. Either way the other reports of the batch still apply.
    const fail = (error: string) => (opening ? this.errored(state, error) : this.abandon(state, error));
    // Output indices below MAX_FANOUT keep lineage keys fixed-width (the last slot sorts a unite last).
    if (end > MAX_FANOUT) return fail(`A state may fan out to at most ${MAX_FANOUT} outputs`);
    const big = fresh.findIndex((o) => exceedsBytes(JSON.stringify(o), MAX_STATE_VALUE_BYTES));
    if (big >= 0) return fail(`Output ${received + big} is larger than ${MAX_STATE_VALUE_BYTES} bytes`);

    const node = this.graph.node(state.identifier);
    const spawn = (node.next_nodes ?? []).map((id) => this.graph.node(id)).filter((n) => !n.unites);
    // Members leave the head's inputs out: a clone's inputs are its head's by definition (never stored
    // with it), children render from outputs and parents, and the store may parse a large head's inputs
    // only when they are read (run-rows.ts), which a page of outputs then never does.
    const member = (index: number, memberOutputs: Record<string, unknown>): StateRow => ({
      ...withoutInputs(state),
      outputs: memberOutputs,
      fanout_index: index,
      exec_seq: state.seq,
    });
    // FIX (design §6): an execution with no outputs has zero width. Children that read its outputs are
    // not created; the others are, once; unites over it fire with empty arrays.
    const last = !page.more;
    const members: [StateRow, NodeTemplate[]][] = fresh.map((o, j) => [member(received + j, o), spawn]);
    if (last && end === 0) {
      members.push([member(0, {}), spawn.filter((n) => !this.graph.readsOutputsOf(n, state.identifier))]);
    }

    // Pass 1: render every child's inputs, so a failure creates nothing of this page. Pass 2 uses them (a
    // clone renders what its member did: the same outputs and parents).
    let rendered: Record<string, string>[][];
    try {
      rendered = members.map(([m, children]) =>
        children.map((next) => renderInputs(this.graph, next, this.resolverFor(m, next.identifier))),
      );
    } catch (e) {
      if (!(e instanceof RenderError)) throw e;
      return this.nextCreatedError(state, received, fresh, e.message, opening);
    }

    if (opening) {
      // Barriers for unites waiting on this execution exist before any child is counted in them.
      this.barriers.open(state);
      if (!last) this.barriers.adjust(this.barriers.ownKeys(state), 1);
    }
    const batches = new Map<number, SpawnBatch>();
    // A wide page's branches are born claimed and sent after the commit (one write each, no claim).
    const wide = members.length * spawn.length > BORN_CLAIMED_FROM;
    const born: StateRow[] = [];
    // The clones this actor keeps come first, with consecutive seqs: the store may keep such a run of
    // clones as one row (a page). A clone is born executed, so it is never pending.
    const placed = members.map(([m, children], i) => {
      const inputs = rendered[i] ?? [];
      const shard = this.shardOf(m.fanout_index, state.identifier);
      if (shard !== 0 || m.fanout_index === 0) return { m, children, inputs, shard };
      const clone: StateRow = {
        ...m,
        seq: this.nextSeq(),
        fanout_id: this.env.newFanoutId(),
        retry_count: 0,
        does_unites: false,
        reported_outputs: 0,
        status: "SUCCESS",
        created_at: this.now,
        updated_at: this.now,
      };
      this.store.insertState(clone);
      this.store.count("SUCCESS", 1);
      return { m: clone, children, inputs, shard };
    });
    // The branches handed to shards are pending in the barriers around this execution: the same keys for
    // every member of the page, so they are counted there once per page.
    let forwarded = 0;
    for (const { m, children, inputs: childInputs, shard } of placed) {
      if (shard !== 0) {
        this.forwardMember(batches, shard, state, m, children, childInputs);
        forwarded += children.length;
        continue;
      }
      for (const [k, next] of children.entries()) {
        const inputs = childInputs[k] ?? {};
        const child = this.newState({
          seq: this.nextSeq(),
          identifier: next.identifier,
          node_name: next.node_name,
          namespace: next.namespace,
          inputs,
          parents: [...m.parents, [m.identifier, m.seq, m.exec_seq]],
          lineage: childLineage(m),
          enqueue_after: this.now,
        });
        const claim = wide ? this.birthClaim(next.identifier, child.enqueue_after) : null;
        if (claim) {
          this.insertClaimed(child, claim);
          born.push(child);
        } else this.insert(child);
      }
    }
    if (born.length > 0) this.store.bornClaimed?.(born);
    if (forwarded > 0) {
      this.barriers.adjust(
        this.barriers.keys([...state.parents, [state.identifier, 0, state.seq]], undefined),
        forwarded,
      );
    }
    for (const [shard, batch] of batches) this.forwardBatch(shard, batch);
    // One write for the head per page: its output 0 (children never read it back from the store), how far
    // the execution got, and its end with the last page.
    const patch: StatePatch = { reported_outputs: end };
    if (opening) Object.assign(patch, { outputs: fresh[0] ?? {}, fanout_index: 0 });
    if (last) {
      if (!opening) this.barriers.adjust(this.barriers.ownKeys(state), -1); // release the reservation
      this.setStatus(state, "SUCCESS", patch);
    } else if (opening) {
      this.setStatus(state, "EXECUTED", patch);
    } else {
      this.store.updateState(state.seq, patch, this.now);
    }
    return { applied: true, status: "EXECUTED", enqueueAfter: state.enqueue_after };
  }

  /**
   * The shard member `index` of a fan-out of `identifier` goes to: 0 (stays here) unless this is the run
   * actor and the node's branches may be sharded (not when a concurrency-limited node runs downstream).
   */
  protected shardOf(index: number, identifier: string): number {
    const plan = this.env.shards;
    if ((this.env.shard ?? 0) !== 0 || !plan || plan.count < 1 || index < Math.max(1, plan.from)) return 0;
    if (!this.graph.shardable(identifier)) return 0;
    return 1 + (index % plan.count);
  }

  /**
   * Hands one member and its children to a shard. They are counted here, now (the clone SUCCESS, each
   * child CREATED; the caller counts them pending in their barriers, in the same transaction), so that
   * neither the run's counts nor a barrier can look finished while the batch is on its way; the shard
   * only writes their rows. Each member is serialized once, as it joins its batch: the batch's text is
   * its members' texts joined.
   */
  protected forwardMember(
    batches: Map<number, SpawnBatch>,
    shard: number,
    head: StateRow,
    m: StateRow,
    children: NodeTemplate[],
    inputs: Record<string, string>[],
  ): void {
    if (children.length > 0) this.store.count("CREATED", children.length);
    const spawned: SpawnedMember = { fanout_index: m.fanout_index, outputs: m.outputs, inputs };
    const text = JSON.stringify(spawned);
    let batch = batches.get(shard);
    let texts = batch ? this.batchTexts.get(batch) : undefined;
    // A batch is one outbox row and one RPC: bounded in size, whatever the outputs weigh.
    if (batch && texts && texts.chars + text.length > SPAWN_BATCH_CHARS) {
      this.forwardBatch(shard, batch);
      batch = undefined;
    }
    if (!batch || !texts) {
      const { seq, identifier, node_name, namespace, parents, lineage } = head;
      const spawn = children.map(({ identifier, node_name, namespace }) => ({
        identifier,
        node_name,
        namespace,
      }));
      batch = { head: { seq, identifier, node_name, namespace, parents, lineage }, spawn, members: [] };
      texts = { prefix: JSON.stringify({ head: batch.head, spawn }).slice(0, -1), members: [], chars: 0 };
      batches.set(shard, batch);
      this.batchTexts.set(batch, texts);
    }
    batch.members.push(spawned);
    texts.members.push(text);
    texts.chars += text.length;
    this.store.count("SUCCESS", 1);
  }

  /**
   * Writes a filled batch to the store with its text (`JSON.stringify(batch)`, built member by member). A
   * wide batch's children are born claimed in the shard: they are counted QUEUED here, now, so that its
   * adoption changes no count, and the shard has nothing to send back for it (a settle RPC and a
   * transaction of the run actor per batch, several seconds of a million-branch split).
   */
  protected forwardBatch(shard: number, batch: SpawnBatch): void {
    const wide = batch.members.length * batch.spawn.length > BORN_CLAIMED_FROM;
    const queued = wide ? batch.spawn.filter((n) => this.claimableAtBirth(n.identifier)) : [];
    if (queued.length > 0) {
      batch.queued = queued.map((n) => n.identifier);
      this.store.count("CREATED", -queued.length * batch.members.length);
      this.store.count("QUEUED", queued.length * batch.members.length);
    }
    const texts = this.batchTexts.get(batch);
    const tail = batch.queued ? `,"queued":${JSON.stringify(batch.queued)}` : "";
    const text = texts ? `${texts.prefix},"members":[${texts.members.join(",")}]${tail}}` : undefined;
    this.store.forward(shard, batch, text);
  }

  /**
   * Ends a paged execution that will send no more pages (its runtime reported an error, or its lease
   * expired). Its branches exist already, so it is not retried: it ends ERRORED, counted as a failure in
   * its own barriers and the ones around it, and its unites fire (ALL_DONE) or fail (ALL_SUCCESS).
   */
  protected abandon(state: StateRow, error: string): ReportOutcome {
    this.barriers.adjust(this.barriers.ownKeys(state), -1, state.seq);
    const message = `${error} (after ${state.reported_outputs} of its outputs were reported)`;
    this.setStatus(state, "ERRORED", { error: message });
    return { applied: true, status: "ERRORED", retryCreated: false, enqueueAfter: state.enqueue_after };
  }

  protected nextCreatedError(
    state: StateRow,
    received: number,
    fresh: Record<string, unknown>[],
    error: string,
    opening: boolean,
  ): ReportOutcome {
    // Branches of earlier pages exist: the execution's own barriers count it as failed and are released.
    if (!opening) this.barriers.adjust(this.barriers.ownKeys(state), -1, state.seq);
    this.setStatus(state, "NEXT_CREATED_ERROR", opening ? { outputs: fresh[0] ?? {}, error } : { error });
    for (let j = 0; j < fresh.length; j++) {
      const index = received + j;
      if (index === 0) continue;
      const clone: StateRow = {
        ...state,
        seq: this.nextSeq(),
        status: "NEXT_CREATED_ERROR",
        outputs: fresh[j] ?? {},
        error,
        exec_seq: state.seq,
        fanout_index: index,
        fanout_id: this.env.newFanoutId(),
        retry_count: 0,
        does_unites: false,
        reported_outputs: 0,
        created_at: this.now,
        updated_at: this.now,
      };
      this.store.insertState(clone);
      this.store.count("NEXT_CREATED_ERROR", 1);
      this.countFailure(clone);
    }
    return { applied: true, status: "EXECUTED", enqueueAfter: state.enqueue_after };
  }
}

/**
 * `state` with empty inputs, its own never read (a spread or a destructuring would read them). Every field
 * is named: a field added to StateRow fails to compile here until it is copied.
 */
function withoutInputs(state: StateRow): StateRow {
  return {
    seq: state.seq,
    identifier: state.identifier,
    node_name: state.node_name,
    namespace: state.namespace,
    status: state.status,
    inputs: {},
    outputs: state.outputs,
    error: state.error,
    data: state.data,
    parents: state.parents,
    exec_seq: state.exec_seq,
    fanout_index: state.fanout_index,
    lineage: state.lineage,
    retry_count: state.retry_count,
    fanout_id: state.fanout_id,
    manual_retry_fanout_id: state.manual_retry_fanout_id,
    does_unites: state.does_unites,
    never_ran: state.never_ran,
    reported_outputs: state.reported_outputs,
    enqueue_after: state.enqueue_after,
    created_at: state.created_at,
    updated_at: state.updated_at,
  };
}
