// Queue message bodies, and the ready states a report hands a push consumer to run at once (eager
// execution): an edge, so they are validated when read back (they may come from an older version of the
// code still draining the queue).
import { z } from "zod";

export const DispatchedState = z.object({
  /** state id (self-routing to its run actor) */
  id: z.string(),
  node: z.string(),
  ns: z.string(),
  identifier: z.string(),
  /** Inline inputs; absent when they are large and must be fetched from the run actor. */
  inputs: z.record(z.string(), z.string()).optional(),
  /** The node declared secrets: fetch them from the run actor (never carried in a message). */
  secrets: z.boolean().optional(),
  /** The node's `timeout_seconds` (run control): the consumer stops waiting for it after that long. */
  timeout: z.number().positive().optional(),
  /** The delivery this message belongs to: a pickup of an older delivery of the state is refused. */
  d: z.number().int().optional(),
});
export type DispatchedState = z.infer<typeof DispatchedState>;

/** One message carries several ready states of one run, so a wide fan-out needs few messages. */
export const DispatchMessage = z.object({
  v: z.literal(1),
  run: z.string(),
  states: z.array(DispatchedState).min(1),
});
export type DispatchMessage = z.infer<typeof DispatchMessage>;

// Listed, not read from the schemas' shapes: a field added to a schema is then not in these lists, and a
// body carrying it goes to zod (slower, never wrong) until `isExactState` checks its type too.
const MESSAGE_KEYS: ReadonlySet<string> = new Set(["v", "run", "states"]);
const STATE_KEYS: ReadonlySet<string> = new Set([
  "id",
  "node",
  "ns",
  "identifier",
  "inputs",
  "secrets",
  "timeout",
  "d",
]);

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const onlyKeys = (o: Record<string, unknown>, keys: ReadonlySet<string>): boolean => {
  for (const k in o) if (!keys.has(k)) return false;
  return true;
};

function isExactState(s: unknown): boolean {
  if (!isPlainObject(s) || !onlyKeys(s, STATE_KEYS)) return false;
  if (typeof s.id !== "string" || typeof s.node !== "string") return false;
  if (typeof s.ns !== "string" || typeof s.identifier !== "string") return false;
  if (s.inputs !== undefined) {
    if (!isPlainObject(s.inputs)) return false;
    for (const k in s.inputs) if (typeof s.inputs[k] !== "string") return false;
  }
  if (s.secrets !== undefined && typeof s.secrets !== "boolean") return false;
  if (
    s.timeout !== undefined &&
    !(typeof s.timeout === "number" && Number.isFinite(s.timeout) && s.timeout > 0)
  ) {
    return false;
  }
  return s.d === undefined || Number.isSafeInteger(s.d);
}

/**
 * A queue message body, checked. A body in exactly the shape our dispatcher sends (no other key, every
 * field of its type) is answered as it is; anything else goes to the zod schema, which strips unknown
 * keys and words the error. Both ways accept the same bodies with the same data (a property test checks
 * it): the hand-written check is for speed, since a Worker cannot compile code at run time and zod then
 * checks a 64-state message field by field at about 1 µs a state, on every message of a wide fan-out.
 */
export function parseDispatchMessage(body: unknown): z.ZodSafeParseResult<DispatchMessage> {
  if (
    isPlainObject(body) &&
    onlyKeys(body, MESSAGE_KEYS) &&
    body.v === 1 &&
    typeof body.run === "string" &&
    Array.isArray(body.states) &&
    body.states.length > 0 &&
    body.states.every(isExactState)
  ) {
    return { success: true, data: body as DispatchMessage };
  }
  return DispatchMessage.safeParse(body);
}
