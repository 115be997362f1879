// What crosses Workers RPC to and from a run actor: what a trigger hands to a new run, what the run
// answers, and the narrow interface a runtime uses to report results. Plain data only (structured clone).
import { z } from "zod";
import type { RunStatus } from "../engine/model";
import type { RunCounts } from "../engine/run/counts";
import { RunTemplateSnapshot } from "../engine/run/snapshot";
import type { Report, ReportOutcome } from "../engine/run/types";
import type { DispatchedState } from "./dispatch";

export type { Report, ReportOutcome };

/** Everything a new run needs; a schema because a cron fire stores it until the run has started. */
export const RunBootstrap = z.object({
  run_id: z.string(),
  namespace: z.string(),
  graph_name: z.string(),
  /** Exosphere's naive ISO timestamp of the trigger. */
  created_at: z.string(),
  template: RunTemplateSnapshot,
  store: z.record(z.string(), z.string()),
  /** The root state's inputs, already resolved (trigger inputs + store placeholders). */
  root_inputs: z.record(z.string(), z.string()),
  /** Milliseconds to wait before the root state may be dispatched. */
  start_delay: z.number(),
  /** What the trigger asked for that was ignored (e.g. inputs the root does not have); absent if none. */
  warnings: z.array(z.string()).optional(),
});
export type RunBootstrap = z.infer<typeof RunBootstrap>;

export interface RunSummary extends RunCounts {
  run_id: string;
  graph_name: string;
  status: RunStatus;
  created_at: string;
  /** The trigger's warnings (RunBootstrap.warnings); absent if none. */
  warnings?: string[];
  /**
   * Present while the run is PENDING and none of its states has ended for STALL_NOTICE_MS: the nodes
   * whose due states wait (to be picked up, or for their runtime's report), and since when.
   */
  waiting?: WaitingNode[];
}

/** Due states of one node that wait, the oldest since `since` (a naive ISO timestamp). */
export interface WaitingNode {
  identifier: string;
  node_name: string;
  namespace: string;
  states: number;
  since: string;
}

/** A claimed state as `states/enqueue` hands it to a pull runtime (spec §2.9). */
export interface PulledState {
  state_id: string;
  node_name: string;
  identifier: string;
  inputs: Record<string, string>;
  created_at: string;
}

/** The nodes a push consumer serves, and how many ready states of them it would run at once. */
export interface EagerAsk {
  nodes: { ns: string; node: string }[];
  max: number;
}

export interface ReportAnswer {
  outcomes: ReportOutcome[];
  /** Ready states leased to the consumer that asked; its `d` is negative (an eager delivery). */
  eager: DispatchedState[];
}

/** Inputs or secrets per state seq, as the run actor answers a runtime. */
export type PerState = Record<number, Record<string, string>>;

/** A state a consumer holds, with the delivery its message carried (`d`; absent in older messages). */
export interface Delivery {
  seq: number;
  d?: number;
}

/**
 * The run actor as a push runtime sees it: confirm the states it picked up, report a batch of results,
 * fetch inputs that travelled by reference, fetch the secrets a node declared. The run actor implements it.
 */
export interface RunRuntimeRpc {
  /**
   * Confirms that a consumer holds these deliveries (at pickup, then as a heartbeat while it executes
   * them); answers the seqs still to run: a state already finished, or sent again in a newer delivery, is
   * left out and must not be executed.
   */
  pickup(deliveries: Delivery[]): Promise<number[]>;
  /**
   * Like `report`, and hands back up to `ask.max` ready states of the nodes the consumer serves, leased
   * to it, to run at once (eager execution, design §6); the consumer confirms them with `pickup` while
   * it runs them and reports them like any other. None when the engine has eager execution off.
   */
  reportAndTake(reports: Report[], ask: EagerAsk): Promise<ReportAnswer>;
  /** Applies a batch of reports in one transaction; one outcome per report. */
  report(reports: Report[], namespace?: string): Promise<ReportOutcome[]>;
  /** Inputs of states whose messages carried them by reference. */
  inputsOf(seqs: number[]): Promise<PerState>;
  /** For each state, exactly the secrets its node declared, decrypted. */
  secretsOf(seqs: number[], namespace?: string): Promise<PerState>;
}
