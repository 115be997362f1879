// Self-routing ids. A run id is a uuid4; its first 16 hex digits (the "run key") name the run actor.
// A state id is that run key followed by the state's 8-hex sequence number inside the run: 24 lowercase
// hex digits, the shape of Exosphere's ObjectIds, so that the API can reach the owning actor from a state
// id alone, with no lookup table.
//
// The top byte of a seq names the actor that owns the state: 0 for the run actor, s ≥ 1 for the run's
// branch shard s (design §6). Each actor allocates seqs in its own range, so ids never collide and a
// state id still routes itself: shard s of run R is the actor named `R:s`.

const STATE_ID = /^[0-9a-f]{24}$/;
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** States one actor can hold: the low 24 bits of a seq. */
export const SEQS_PER_SHARD = 0x1000000;
/** Most branch shards a run can have (the top byte of a seq, 0 being the run actor). */
export const MAX_SHARDS = 0xff;
export const MAX_STATE_SEQ = 0xffffffff;

export function newRunId(): string {
  return crypto.randomUUID();
}

/** The run actor's name for a run id, or null when the id is not a well-formed uuid. */
export function runKeyOfRunId(runId: string): string | null {
  if (!RUN_ID.test(runId)) return null;
  return runId.replace(/-/g, "").slice(0, 16);
}

export function stateIdOf(runKey: string, seq: number): string {
  return runKey + seq.toString(16).padStart(8, "0");
}

/** The actor that owns a seq: 0 is the run actor, s ≥ 1 a branch shard. */
export const shardOfSeq = (seq: number): number => Math.floor(seq / SEQS_PER_SHARD);

/** The first seq an actor allocates. */
export const firstSeqOf = (shard: number): number => shard * SEQS_PER_SHARD + 1;

/** The Durable Object name of a run's shard (the run actor's is the run key itself). */
export const actorName = (runKey: string, shard: number): string =>
  shard === 0 ? runKey : `${runKey}:${shard}`;

/** Splits a state id into its run key, sequence number and owning actor, or null when it is malformed. */
export function parseStateId(stateId: string): { runKey: string; seq: number; actor: string } | null {
  if (!STATE_ID.test(stateId)) return null;
  const runKey = stateId.slice(0, 16);
  const seq = Number.parseInt(stateId.slice(16), 16);
  return { runKey, seq, actor: actorName(runKey, shardOfSeq(seq)) };
}

/** Splits an actor name into its run key and shard, or null when it names no run actor. */
export function parseActorName(name: string): { runKey: string; shard: number } | null {
  const match = /^([0-9a-f]{16})(?::([1-9][0-9]{0,2}))?$/.exec(name);
  if (!match?.[1]) return null;
  const shard = match[2] === undefined ? 0 : Number(match[2]);
  return shard <= MAX_SHARDS ? { runKey: match[1], shard } : null;
}
