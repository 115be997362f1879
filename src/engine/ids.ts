// Self-routing ids. A run id is a uuid4; its first 16 hex digits (the "run key") name the run actor.
// A state id is that run key followed by the state's 8-hex sequence number inside the run: 24 lowercase
// hex digits, the shape of Exosphere's ObjectIds, so that the API can reach the owning run actor from a
// state id alone, with no lookup table.

const STATE_ID = /^[0-9a-f]{24}$/;
const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

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

/** Splits a state id into its run key and sequence number, or null when it is malformed. */
export function parseStateId(stateId: string): { runKey: string; seq: number } | null {
  if (!STATE_ID.test(stateId)) return null;
  return { runKey: stateId.slice(0, 16), seq: Number.parseInt(stateId.slice(16), 16) };
}
