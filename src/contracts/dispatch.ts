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
