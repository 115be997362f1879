// `POST /v0/namespace/{ns}/states/enqueue` (spec §2.9): a pull runtime asks for up to `batch_size` ready
// states of the named nodes. Refs come from the per-(namespace, node) ready-queue actors, the states are
// claimed (CREATED → QUEUED, with a lease) by their run actors, one RPC per run, and the refs are acked.
// Work is O(batch): no actor scans anything beyond the refs it hands out.
import { Hono } from "hono";
import { namespaceStub } from "../../actors/namespace-actor";
import { configOf } from "../../config";
import type { PulledState } from "../../contracts";
import { readyQueueName } from "../../dispatch/ready-refs";
import { parseStateId } from "../../engine/ids";
import { MAX_ENQUEUE_ROUNDS, MAX_ENQUEUE_WAITS, NODE_SEEN_EVERY_MS } from "../../engine/limits";
import { Throttle } from "../../engine/throttle";
import type { AppEnv } from "../env";
import { jsonBody } from "../middleware/json-body";
import { enqueueBodySchema } from "../schemas/request-bodies";

/**
 * Registered node names per namespace, as this isolate has seen them. Registrations are never deleted,
 * so a name once seen registered stays so and the cache needs no expiry; a name it lacks is looked up
 * (one RPC to the namespace actor), so a node registered a moment ago is served at once. Bounded: when
 * full it starts again.
 */
const seenRegistered = new Map<string, Set<string>>();
const MAX_CACHED_NAMESPACES = 1000;

const polled = new Throttle(NODE_SEEN_EVERY_MS);

/** A poll is a runtime serving its nodes: recorded (throttled) so that a waiting run can tell. */
async function recordPoll(env: Env, namespace: string, names: string[]): Promise<void> {
  const due = names.filter((n) => polled.due(`${namespace}\u0000${n}`));
  if (due.length === 0) return;
  try {
    await namespaceStub(env, namespace).nodesSeen(due);
  } catch (e) {
    // Only a hint for clients: the poll itself must not fail for it.
    console.error("recording a poll failed", e instanceof Error ? e.message : e);
  }
}

/** The names among `names` that are registered nodes of `namespace`, in their order. */
async function registeredOnly(env: Env, namespace: string, names: string[]): Promise<string[]> {
  let seen = seenRegistered.get(namespace);
  const unknown = names.filter((n) => !seen?.has(n));
  if (unknown.length > 0) {
    const found = await namespaceStub(env, namespace).getRegisteredNodes(namespace, unknown);
    if (found.length > 0) {
      if (seen === undefined) {
        if (seenRegistered.size >= MAX_CACHED_NAMESPACES) seenRegistered.clear();
        seen = new Set();
        seenRegistered.set(namespace, seen);
      }
      for (const n of found) seen.add(n.name);
    }
  }
  return names.filter((n) => seen?.has(n));
}

/**
 * Splits `total` as evenly as possible across `n` nodes. The remainder goes to nodes starting at
 * `offset`, which the caller rotates so that no node is always the one left with the smaller share.
 */
export function fairShares(total: number, n: number, offset: number): number[] {
  if (n <= 0) return [];
  const base = Math.floor(total / n);
  const extra = total % n;
  return Array.from({ length: n }, (_, i) => {
    const position = (((i - offset) % n) + n) % n;
    return base + (position < extra ? 1 : 0);
  });
}

export const statesEnqueueRoutes = new Hono<AppEnv>().post(
  "/v0/namespace/:namespace/states/enqueue",
  jsonBody(enqueueBodySchema),
  async (c) => {
    const namespace = c.req.param("namespace");
    const { nodes, batch_size: batchSize, wait_ms: waitMs } = c.get("body");
    // Only registered nodes have ready queues worth asking: a name nobody registered wakes no actor.
    const names = batchSize > 0 ? await registeredOnly(c.env, namespace, [...new Set(nodes)]) : [];
    const [states] = await Promise.all([
      names.length > 0
        ? claimWaiting(c.env, namespace, names, batchSize, waitMs ?? configOf(c.env).pullWaitMs)
        : [],
      recordPoll(c.env, namespace, names),
    ]);
    return c.json({ count: states.length, namespace, status: "QUEUED", states });
  },
);

/**
 * Claims a batch; when nothing was ready, waits (up to `waitMs` in all) for any of the nodes' ready
 * queues to be offered a ref and tries again: long polling, so a state offered while a runtime's poll is
 * open reaches it at once. An empty answer after the wait is the same as Exosphere's immediate one.
 */
async function claimWaiting(
  env: Env,
  namespace: string,
  nodes: string[],
  batchSize: number,
  waitMs: number,
): Promise<PulledState[]> {
  const deadline = Date.now() + waitMs;
  for (let round = 0; ; round++) {
    const states = await claimFairly(env, namespace, nodes, batchSize);
    const left = deadline - Date.now();
    if (states.length > 0 || left <= 0 || round >= MAX_ENQUEUE_WAITS) return states;
    // A wait that fails (its actor was reset) ends like a wake-up: the poll claims again or answers.
    await Promise.race(
      nodes.map((node) =>
        env.READY_QUEUE.getByName(readyQueueName(namespace, node))
          .waitForOffer(left)
          .catch(() => undefined),
      ),
    );
  }
}

/**
 * Round 1 gives every node an even share of the batch; later rounds split what is left among the nodes
 * that filled their share (they may have more), so a busy node cannot starve a quiet one and a batch is
 * still filled when only one node has work.
 */
async function claimFairly(env: Env, namespace: string, nodes: string[], batchSize: number) {
  const out: PulledState[] = [];
  let active = nodes;
  for (let round = 0; round < MAX_ENQUEUE_ROUNDS && active.length > 0 && out.length < batchSize; round++) {
    const shares = fairShares(batchSize - out.length, active.length, randomOffset(active.length));
    const asked = active.map((node, i) => ({ node, share: shares[i] ?? 0 })).filter((a) => a.share > 0);
    const taken = await Promise.all(
      asked.map(async (a) => ({
        ...a,
        ids: await env.READY_QUEUE.getByName(readyQueueName(namespace, a.node)).take(a.share),
      })),
    );
    out.push(...(await claim(env, namespace, taken)));
    active = taken.filter((t) => t.ids.length >= t.share).map((t) => t.node);
  }
  return out;
}

/**
 * Claims taken refs in their run actors (one RPC per run, in parallel), then acks them to their ready
 * queues, claimed or stale. Acks are awaited before the answer: the runtime's report, which can requeue a
 * state and offer its ref again, must not race an ack of the old ref. Refs of a run whose claim failed
 * are not acked; their ready queue hands them out again later.
 */
async function claim(
  env: Env,
  namespace: string,
  taken: { node: string; ids: string[] }[],
): Promise<PulledState[]> {
  const byRun = new Map<string, { seqs: number[]; ids: string[] }>();
  const nodeOf = new Map<string, string>();
  for (const t of taken) {
    for (const id of t.ids) {
      nodeOf.set(id, t.node);
      const parsed = parseStateId(id);
      if (parsed === null) continue; // never offered by a run actor; acked below as stale
      // Grouped by the actor that owns the state (the run actor, or one of its branch shards).
      const group = byRun.get(parsed.actor) ?? { seqs: [], ids: [] };
      group.seqs.push(parsed.seq);
      group.ids.push(id);
      byRun.set(parsed.actor, group);
    }
  }
  const failed = new Set<string>();
  const claimed = await Promise.all(
    [...byRun].map(async ([actor, group]) => {
      try {
        return await env.RUN.getByName(actor).claimPulled(group.seqs);
      } catch (e) {
        console.error(`claiming pulled states of ${actor} failed`, e instanceof Error ? e.message : e);
        for (const id of group.ids) failed.add(id);
        return [];
      }
    }),
  );
  const acks = new Map<string, string[]>();
  for (const [id, node] of nodeOf) {
    if (failed.has(id)) continue;
    const ids = acks.get(node) ?? [];
    ids.push(id);
    acks.set(node, ids);
  }
  await Promise.all(
    [...acks].map(([node, ids]) => env.READY_QUEUE.getByName(readyQueueName(namespace, node)).ack(ids)),
  );
  return claimed.flat();
}

function randomOffset(n: number): number {
  return n <= 1 ? 0 : (crypto.getRandomValues(new Uint32Array(1))[0] ?? 0) % n;
}
