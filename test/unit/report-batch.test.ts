// Group commit of a run actor's report RPCs (src/actors/report-batch.ts), against a fake host: which
// calls share a transaction, what each call is answered, and what happens when a transaction throws.
import { describe, expect, it } from "vitest";
import { MAX_REPORTS_PER_COMMIT, ReportBatch, type ReportCall } from "../../src/actors/report-batch";
import type { Report, ReportOutcome } from "../../src/engine/run/types";

const executed = (seq: number): Report => ({ type: "executed", seq, outputs: [] });

/** A host whose "states" are seqs: a report applies once (QUEUED → SUCCESS), a repeat is refused. */
function fakeHost(opts: { throwOn?: number } = {}) {
  const done = new Set<number>();
  const transactions: ReportCall[][] = [];
  let release: (() => void) | null = null;
  const host = {
    applyAll(calls: ReportCall[]): ReportOutcome[][] {
      const staged = new Set(done);
      const outcomes = calls.map((c) =>
        c.reports.map((r): ReportOutcome => {
          if (r.seq === opts.throwOn) throw new Error(`report ${r.seq} broke`);
          if (staged.has(r.seq)) return { applied: false, reason: "not_queued", status: "SUCCESS" };
          staged.add(r.seq);
          return { applied: true, status: "SUCCESS", enqueueAfter: 0 };
        }),
      );
      // Committed only if nothing threw: a transaction that throws rolls back.
      for (const seq of staged) done.add(seq);
      transactions.push(calls);
      return outcomes;
    },
    /** The dispatch pass after a commit: held open until the test releases it. */
    afterCommit: () =>
      new Promise<void>((resolve) => {
        release = resolve;
      }),
  };
  const releaseDispatch = async () => {
    // Let queued microtasks run (the batch waits on the dispatch promise), then release it.
    await Promise.resolve();
    const r = release;
    release = null;
    r?.();
  };
  return { host, transactions, releaseDispatch, done };
}

describe("report group commit", () => {
  it("applies a lone report at once, in a transaction of its own", async () => {
    const { host, transactions, releaseDispatch } = fakeHost();
    const batch = new ReportBatch(host);
    const answer = batch.submit({ reports: [executed(1)], namespace: "ns" });
    expect(transactions).toHaveLength(1);
    await releaseDispatch();
    expect(await answer).toEqual([{ applied: true, status: "SUCCESS", enqueueAfter: 0 }]);
  });

  it("applies the reports that arrive during a commit together, each answered with its own outcomes", async () => {
    const { host, transactions, releaseDispatch } = fakeHost();
    const batch = new ReportBatch(host);
    const first = batch.submit({ reports: [executed(1)], namespace: "ns" });
    // Arrive while the first commit's dispatch pass runs: a duplicate of 1, a new state, and 3 twice.
    const later = [
      batch.submit({ reports: [executed(1)], namespace: "ns" }),
      batch.submit({ reports: [executed(2)], namespace: "ns" }),
      batch.submit({ reports: [executed(3), executed(3)], namespace: "other" }),
    ];
    await releaseDispatch();
    await first;
    await releaseDispatch();
    const [dup, second, third] = await Promise.all(later);
    expect(transactions.map((t) => t.length)).toEqual([1, 3]);
    expect(transactions[1]?.map((c) => c.namespace)).toEqual(["ns", "ns", "other"]);
    expect(dup).toEqual([{ applied: false, reason: "not_queued", status: "SUCCESS" }]);
    expect(second).toEqual([{ applied: true, status: "SUCCESS", enqueueAfter: 0 }]);
    expect(third?.map((o) => o.applied)).toEqual([true, false]);
    expect(batch.cost.reportCommits).toBe(2);
  });

  it(`bounds a transaction at ${MAX_REPORTS_PER_COMMIT} reports, never splitting a call`, async () => {
    const { host, transactions, releaseDispatch } = fakeHost();
    const batch = new ReportBatch(host);
    const first = batch.submit({ reports: [executed(0)], namespace: "ns" });
    const half = MAX_REPORTS_PER_COMMIT / 2 + 1;
    const call = (from: number) => ({
      reports: Array.from({ length: half }, (_, i) => executed(from + i)),
      namespace: "ns",
    });
    const later = [batch.submit(call(1)), batch.submit(call(1 + half))];
    for (let i = 0; i < 3; i++) await releaseDispatch();
    await first;
    await Promise.all(later);
    expect(transactions.map((t) => t.length)).toEqual([1, 1, 1]);
  });

  it("applies the calls of a batch that threw one by one, so only the broken call fails", async () => {
    const { host, transactions, releaseDispatch, done } = fakeHost({ throwOn: 7 });
    const batch = new ReportBatch(host);
    const first = batch.submit({ reports: [executed(1)], namespace: "ns" });
    const good = batch.submit({ reports: [executed(2)], namespace: "ns" });
    const broken = batch.submit({ reports: [executed(7)], namespace: "ns" });
    const alsoGood = batch.submit({ reports: [executed(3)], namespace: "ns" });
    await releaseDispatch();
    await first;
    await releaseDispatch();
    await expect(broken).rejects.toThrow("report 7 broke");
    expect(await good).toEqual([{ applied: true, status: "SUCCESS", enqueueAfter: 0 }]);
    expect(await alsoGood).toEqual([{ applied: true, status: "SUCCESS", enqueueAfter: 0 }]);
    // The batch of three rolled back, then 2 and 3 committed alone; 7 never did.
    expect([...done].sort()).toEqual([1, 2, 3]);
    expect(transactions.map((t) => t.length)).toEqual([1, 1, 1]);
  });

  it("answers every call of a batch with the error of its dispatch pass, after the commit", async () => {
    const calls: ReportCall[][] = [];
    const batch = new ReportBatch({
      applyAll: (c) => {
        calls.push(c);
        return c.map(() => []);
      },
      afterCommit: () => Promise.reject(new Error("dispatch broke")),
    });
    await expect(batch.submit({ reports: [], namespace: undefined })).rejects.toThrow("dispatch broke");
    expect(calls).toHaveLength(1);
  });
});
