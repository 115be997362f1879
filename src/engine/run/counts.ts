// Run counts and status, exactly as Exosphere derives them (spec §2.16), from per-status counters.
import type { RunStatus, StateStatus } from "../model";

export type StatusCounts = Partial<Record<StateStatus, number>>;

/** A run's counters as Exosphere's runs list shows them. */
export interface RunCounts {
  success_count: number;
  pending_count: number;
  errored_count: number;
  retried_count: number;
  total_count: number;
  /** Our extension (run control): CANCELLED states, present only when there are some. */
  cancelled_count?: number;
}

export function runCounts(c: StatusCounts): RunCounts {
  const n = (s: StateStatus) => c[s] ?? 0;
  const success_count = n("SUCCESS") + n("PRUNED");
  const pending_count = n("CREATED") + n("QUEUED") + n("EXECUTED");
  const errored_count = n("ERRORED") + n("NEXT_CREATED_ERROR");
  const retried_count = n("RETRY_CREATED");
  const cancelled_count = n("CANCELLED");
  return {
    success_count,
    pending_count,
    errored_count,
    retried_count,
    total_count: success_count + pending_count + errored_count + retried_count + cancelled_count,
    ...(cancelled_count > 0 ? { cancelled_count } : {}),
  };
}

/** What run control adds to a run's status: whether it was cancelled, and failures its unites tolerated. */
export interface RunControlState {
  cancelled?: boolean;
  /** Errored states that a unite's barrier tolerated: the run does not fail for them. */
  tolerated?: number;
}

export function runStatus(counts: RunCounts, control: RunControlState = {}): RunStatus {
  if (control.cancelled) return "CANCELLED";
  if (counts.pending_count > 0) return "PENDING";
  if (counts.errored_count > (control.tolerated ?? 0)) return "FAILED";
  // Exosphere: a run with no states at all is FAILED.
  return counts.total_count > 0 ? "SUCCESS" : "FAILED";
}

export const TERMINAL: ReadonlySet<StateStatus> = new Set<StateStatus>([
  "SUCCESS",
  "PRUNED",
  "ERRORED",
  "NEXT_CREATED_ERROR",
  "RETRY_CREATED",
  "CANCELLED",
]);
export const FAILED: ReadonlySet<StateStatus> = new Set<StateStatus>(["ERRORED", "NEXT_CREATED_ERROR"]);
