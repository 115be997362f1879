// Group commit for a run actor's `report` RPCs. Exosphere's SDK sends one HTTP request per state from
// many workers at once, so a run actor receives many one-report RPCs concurrently. Applied one by one,
// each costs a transaction and a dispatch pass (`afterCommit`) of its own. Here the first RPC is applied at
// once; RPCs that arrive while it commits and dispatches wait and are applied together, in arrival order,
// in one transaction followed by one dispatch pass: the batch grows with the load, and an idle actor adds
// no delay. Each RPC still receives its own outcomes, exactly as if it had come alone in that order (a
// duplicate behind the original is refused, as it would be on its own).
//
// A batch whose transaction throws changed nothing (it rolled back); its RPCs are then applied one by
// one, so that one report that throws fails only its own RPC.
import type { Report, ReportOutcome } from "../engine/run/types";

export interface ReportCall {
  reports: Report[];
  namespace: string | undefined;
}

export interface ReportBatchHost {
  /** Applies the calls in one transaction, answering each call's outcomes; throws if it rolled back. */
  applyAll(calls: ReportCall[]): ReportOutcome[][];
  /** What follows a commit (dispatch of what became ready); awaited before the RPCs are answered. */
  afterCommit(): Promise<void>;
}

/** Most reports applied in one transaction (one push consumer batch can hold thousands on its own). */
export const MAX_REPORTS_PER_COMMIT = 2_000;

interface Pending {
  call: ReportCall;
  resolve: (outcomes: ReportOutcome[]) => void;
  reject: (error: unknown) => void;
}

export class ReportBatch {
  private queue: Pending[] = [];
  private running = false;
  /** Transactions and the report RPCs they applied (for the cost counters). */
  readonly cost = { reportCommits: 0 };

  constructor(private readonly host: ReportBatchHost) {}

  submit(call: ReportCall): Promise<ReportOutcome[]> {
    const promise = new Promise<ReportOutcome[]>((resolve, reject) => {
      this.queue.push({ call, resolve, reject });
    });
    if (!this.running) void this.drain();
    return promise;
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.take();
        const results = this.apply(batch);
        let after: { ok: true } | { ok: false; error: unknown } = { ok: true };
        try {
          await this.host.afterCommit();
        } catch (error) {
          after = { ok: false, error };
        }
        batch.forEach((p, i) => {
          const result = results[i];
          if (!after.ok) p.reject(after.error);
          else if (result === undefined || !result.ok) p.reject(result?.error);
          else p.resolve(result.outcomes);
        });
      }
    } finally {
      this.running = false;
    }
  }

  /** The calls of the next batch: whole calls, at most MAX_REPORTS_PER_COMMIT reports (at least one call). */
  private take(): Pending[] {
    let reports = 0;
    let n = 0;
    for (const p of this.queue) {
      if (n > 0 && reports + p.call.reports.length > MAX_REPORTS_PER_COMMIT) break;
      reports += p.call.reports.length;
      n += 1;
    }
    return this.queue.splice(0, n);
  }

  private apply(
    batch: Pending[],
  ): ({ ok: true; outcomes: ReportOutcome[] } | { ok: false; error: unknown })[] {
    try {
      this.cost.reportCommits += 1;
      return this.host.applyAll(batch.map((p) => p.call)).map((outcomes) => ({ ok: true, outcomes }));
    } catch (error) {
      if (batch.length === 1) return [{ ok: false, error }];
      // Nothing of the batch was applied: each call again, alone, so an error stays with its own call.
      return batch.map((p) => {
        try {
          this.cost.reportCommits += 1;
          const [outcomes] = this.host.applyAll([p.call]);
          return outcomes
            ? { ok: true as const, outcomes }
            : { ok: false as const, error: new Error("no outcomes") };
        } catch (e) {
          return { ok: false as const, error: e };
        }
      });
    }
  }
}
