// Run control (our extensions, design §6): the rules of cancellation, per-node concurrency limits,
// tolerated failures in a unite and per-node timeouts, as plain functions the engine, the dispatcher and
// the run actor share.
import type { NodeTemplate, Transport, Unites } from "../model";

/** The error a state cancelled with its run carries (shown by the node details and graph views). */
export const CANCELLED_ERROR = "Run cancelled: this state was not run to completion";

/** The error of a state whose node ran longer than its `timeout_seconds`. */
export const timeoutError = (seconds: number) =>
  `Timed out: the node ran longer than its timeout_seconds (${seconds} s)`;

/**
 * How long a runtime may run a state of `node` before the state is errored: its `timeout_seconds` when
 * set, else `defaultMs` (the transport's lease).
 */
export function executionLeaseMs(node: Pick<NodeTemplate, "timeout_seconds">, defaultMs: number): number {
  return node.timeout_seconds !== undefined ? node.timeout_seconds * 1000 : defaultMs;
}

/**
 * The error an expired lease gives its state. A pull claim's lease is the node's timeout when it has one,
 * so its expiry is that timeout; otherwise (and for push, whose consumer enforces the timeout itself and
 * whose lease is the transport's) it is the runtime that went silent.
 */
export function leaseExpiryError(
  node: Pick<NodeTemplate, "timeout_seconds">,
  transport: Transport | undefined,
  leaseExpired: string,
): string {
  return transport === "pull" && node.timeout_seconds !== undefined
    ? timeoutError(node.timeout_seconds)
    : leaseExpired;
}

/** Whether a unite carries a tolerance (it then absorbs its subtree's failures, see BarrierBook). */
export const hasTolerance = (u: Unites | null | undefined): boolean =>
  u?.tolerated_failure_count !== undefined || u?.tolerated_failure_percentage !== undefined;

/**
 * Whether `failed` errored subtree states exceed a unite's tolerance, for an execution of `width`
 * outputs (the percentage is of those). `widthFinal` is false while pages of the execution's outputs are
 * still arriving: a percentage cannot be judged yet. With both limits, exceeding either one fails (as in
 * Step Functions). A unite without a tolerance tolerates nothing.
 */
export function exceedsTolerance(u: Unites, failed: number, width: number, widthFinal = true): boolean {
  if (failed === 0) return false;
  if (!hasTolerance(u)) return true;
  if (u.tolerated_failure_count !== undefined && failed > u.tolerated_failure_count) return true;
  const p = u.tolerated_failure_percentage;
  return p !== undefined && widthFinal && failed * 100 > p * width;
}
