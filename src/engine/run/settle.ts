// Settle deltas (design §6): what a branch shard's transactions changed in the run's counts and in the
// run actor's barriers. A shard sends them in order; consecutive ones add up into one.
import { FAILED_SAMPLE } from "./barriers";
import type { BarrierDelta, SettleDelta } from "./types";

/** Adds up consecutive settle deltas of one shard into one. */
export function mergeSettles(deltas: SettleDelta[]): SettleDelta {
  const counts: SettleDelta["counts"] = {};
  const barriers = new Map<string, BarrierDelta>();
  let tolerated = 0;
  for (const delta of deltas) {
    tolerated += delta.tolerated ?? 0;
    for (const [status, n] of Object.entries(delta.counts)) {
      const key = status as keyof SettleDelta["counts"];
      counts[key] = (counts[key] ?? 0) + (n ?? 0);
    }
    for (const b of delta.barriers) {
      const key = `${b.unite}\u0000${b.exec_seq}`;
      const sum = barriers.get(key) ?? { ...b, pending: 0, failed: 0, failed_add: [], failed_remove: [] };
      sum.pending += b.pending;
      sum.failed += b.failed;
      // A failure withdrawn after it was added (a manual retry) cancels out; the sample stays small.
      for (const seq of b.failed_remove) {
        const at = sum.failed_add.indexOf(seq);
        if (at >= 0) sum.failed_add.splice(at, 1);
        else sum.failed_remove.push(seq);
      }
      for (const seq of b.failed_add) if (sum.failed_add.length < FAILED_SAMPLE) sum.failed_add.push(seq);
      barriers.set(key, sum);
    }
  }
  return { counts, barriers: [...barriers.values()], ...(tolerated > 0 ? { tolerated } : {}) };
}
