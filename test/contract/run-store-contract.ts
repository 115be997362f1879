// The RunStore port's contract (design §3), written once and run against both implementations: the
// in-memory store the engine's unit tests use (test/unit/run-store-memory.test.ts, in Node) and the run
// actor's SQLite store (test/integration/run-store-sqlite.test.ts, inside workerd). Tests of the engine
// assert on the port; this suite is what makes the two stores interchangeable.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { firstSeqOf } from "../../src/engine/ids";
import { ROW_VALUE_BYTES } from "../../src/engine/limits";
import type { BarrierDelta, RunStore, SpawnBatch, StateRow } from "../../src/engine/run/types";

/** What the suite needs beside the port: the effects a store makes visible only to its actor. */
export interface StoreUnderTest {
  store: RunStore;
  /** Ends the "transaction": counters and remote deltas are written. */
  commit(): void;
  /** The run's counts as the store holds them after `commit`. */
  counts(): Partial<Record<string, number>>;
  /** Seqs of states ready and due at `now`. */
  dueAt(now: number): number[];
  /** Barrier deltas written for other actors, in order, since the last call (a shard's settle outbox). */
  takeRemoteDeltas(): BarrierDelta[];
}

/** Runs `test` against a fresh, empty store of the given actor (0: the run actor, s: shard s). */
export type WithStore = (
  shard: number,
  store: Record<string, string>,
  test: (s: StoreUnderTest) => void | Promise<void>,
) => Promise<void>;

export function row(seq: number, over: Partial<StateRow> = {}): StateRow {
  return {
    seq,
    identifier: "n",
    node_name: "N",
    namespace: "t",
    status: "CREATED",
    inputs: { v: "in" },
    outputs: {},
    error: null,
    data: {},
    parents: [],
    exec_seq: seq,
    fanout_index: 0,
    lineage: "",
    retry_count: 0,
    fanout_id: `f${seq}`,
    manual_retry_fanout_id: "",
    does_unites: false,
    never_ran: false,
    reported_outputs: 0,
    enqueue_after: 0,
    created_at: 1,
    updated_at: 1,
    ...over,
  };
}

export function runStoreContract(name: string, withStore: WithStore): void {
  describe(`RunStore contract: ${name}`, () => {
    it("allocates seqs in its actor's own range, one after another", () =>
      withStore(2, {}, ({ store }) => {
        expect([store.nextSeq(), store.nextSeq()]).toEqual([firstSeqOf(2), firstSeqOf(2) + 1]);
      }));

    it("reads back what it wrote, a value larger than a row included, and a clone's inputs from its head", () =>
      withStore(0, {}, ({ store }) => {
        const big = "é😀x".repeat(300_000);
        store.insertState(row(1, { inputs: { v: big }, outputs: { o: big }, parents: [["p", 7, 7]] }));
        store.insertState(
          row(2, { exec_seq: 1, fanout_index: 1, inputs: { ignored: "x" }, status: "SUCCESS" }),
        );
        expect(store.getState(1)).toEqual(
          row(1, { inputs: { v: big }, outputs: { o: big }, parents: [["p", 7, 7]] }),
        );
        expect(store.getState(2)?.inputs).toEqual({ v: big });
        expect(store.outputsOf(1)).toEqual({ o: big });
        expect(store.getState(3)).toBeUndefined();
        expect(store.outputsOf(3)).toBeUndefined();
      }));

    it("applies a patch to the fields it names and stamps the time", () =>
      withStore(0, {}, ({ store }) => {
        store.insertState(row(1));
        store.updateState(
          1,
          { status: "EXECUTED", outputs: { a: "1" }, reported_outputs: 5, never_ran: true },
          99,
        );
        expect(store.getState(1)).toMatchObject({
          status: "EXECUTED",
          outputs: { a: "1" },
          reported_outputs: 5,
          never_ran: true,
          inputs: { v: "in" },
          updated_at: 99,
        });
      }));

    it("keeps barriers by (unite, execution)", () =>
      withStore(0, {}, ({ store }) => {
        const b = { unite: "u", exec_seq: 4, pending: 3, failed: 1, failed_sample: [9], fired: false };
        store.putBarrier(b);
        store.putBarrier({ ...b, exec_seq: 5, pending: 0, fired: true });
        expect(store.getBarrier("u", 4)).toEqual(b);
        expect(store.getBarrier("u", 5)?.fired).toBe(true);
        expect(store.getBarrier("v", 4)).toBeUndefined();
      }));

    it("reads the run's store values", () =>
      withStore(0, { k: "v" }, ({ store }) => {
        expect(store.storeValue("k")).toBe("v");
        expect(store.storeValue("missing")).toBeUndefined();
      }));

    it("lists a subtree's values in fan-out order: SUCCESS states only, the field only where it exists", () =>
      withStore(0, {}, ({ store }) => {
        const put = (seq: number, lineage: string, outputs: Record<string, unknown>, status = "SUCCESS") =>
          store.insertState(
            row(seq, { identifier: "q", lineage, outputs, status: status as StateRow["status"] }),
          );
        put(1, "0000000a000002", { v: "c" });
        put(2, "0000000a000000", { v: "a" });
        put(3, "0000000a000001", {}); // an execution with no outputs: no value
        put(4, "0000000a000001", { v: "b" });
        put(5, "0000000a000003", { v: "x" }, "ERRORED");
        put(6, "0000000b000000", { v: "other subtree" });
        expect(store.subtreeTexts("q", "0000000a", "v")).toEqual(['"a"', '"b"', '"c"']);
      }));

    it("gives each subtree value as the JSON text JSON.stringify gives it, whatever the value", () =>
      withStore(0, {}, ({ store }) => {
        // Unicode, escapes, lone surrogates, numbers in exponent form, nested values, null.
        const values = fc.sample(fc.jsonValue(), { numRuns: 300, seed: 7 });
        // The last one is larger than a row: its outputs are stored in chunks.
        values.push(
          'é\n"\\\u2028',
          "\ud800",
          1e21,
          -0.5,
          { a: [1, { b: null }] },
          null,
          "",
          "x".repeat(ROW_VALUE_BYTES),
        );
        for (const [i, v] of values.entries()) {
          store.insertState(
            row(i + 1, {
              identifier: "q",
              lineage: `0000000a${String(i).padStart(6, "0")}`,
              outputs: { v, 'a "quoted" field': v },
              status: "SUCCESS",
            }),
          );
        }
        expect(store.subtreeTexts("q", "0000000a", "v")).toEqual(values.map((v) => JSON.stringify(v)));
        // A field name no JSON path can hold is read the slow way, with the same answer.
        expect(store.subtreeTexts("q", "0000000a", 'a "quoted" field')).toEqual(
          values.map((v) => JSON.stringify(v)),
        );
      }));

    it("reads a fan-out's clones back as written: by seq, their outputs, in subtree order, by fan-out id", () =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.oneof(fc.jsonValue(), fc.constant("x".repeat(70_000))), {
            minLength: 1,
            maxLength: 1_200,
          }),
          fc.integer({ min: 0, max: 3 }),
          (values, children) =>
            withStore(0, {}, ({ store, commit }) => {
              // A head, its clones with consecutive seqs (as the engine allocates them), then children.
              const head = row(store.nextSeq(), {
                identifier: "q",
                lineage: "00000001000000",
                status: "SUCCESS",
              });
              store.insertState({ ...head, outputs: { v: values[0] } });
              const clones = values.slice(1).map((v, k) =>
                row(0, {
                  ...head,
                  seq: store.nextSeq(),
                  exec_seq: head.seq,
                  fanout_index: k + 1,
                  fanout_id: `clone-${k}`,
                  inputs: {},
                  outputs: k % 5 === 4 ? {} : { v, k },
                }),
              );
              for (const c of clones) store.insertState(c);
              for (let i = 0; i < children; i++) {
                store.insertState(
                  row(store.nextSeq(), { identifier: "c", parents: [["q", head.seq, head.seq]] }),
                );
              }
              // Another execution of q in the same subtree, after the clones, and one outside it.
              store.insertState(
                row(5_000, {
                  identifier: "q",
                  lineage: "00000001000001",
                  status: "SUCCESS",
                  outputs: { v: "later" },
                }),
              );
              store.insertState(
                row(5_001, {
                  identifier: "q",
                  lineage: "00000002000000",
                  status: "SUCCESS",
                  outputs: { v: "out" },
                }),
              );
              commit();
              for (const c of clones) {
                expect(store.getState(c.seq)).toEqual({ ...c, inputs: head.inputs });
                expect(store.outputsOf(c.seq)).toEqual(c.outputs);
              }
              const expected = [{ v: values[0] }, ...clones.map((c) => c.outputs), { v: "later" }]
                .filter((o) => "v" in o)
                .map((o) => JSON.stringify(o.v));
              expect(store.subtreeTexts("q", "00000001", "v")).toEqual(expected);
              expect(store.hasAttempt("q", `clone-${values.length - 2}`, 0)).toBe(values.length > 1);
              expect(store.hasAttempt("q", "clone-none", 0)).toBe(false);
            }),
        ),
        { numRuns: 12, seed: 11 },
      ));

    it("finds an execution's clones and a retry attempt", () =>
      withStore(0, {}, ({ store }) => {
        store.insertState(row(1));
        store.insertState(row(2, { exec_seq: 1, fanout_index: 1 }));
        store.insertState(row(3, { exec_seq: 1, fanout_index: 2 }));
        expect(store.clonesOf(1).sort()).toEqual([2, 3]);
        expect(store.hasAttempt("n", "f1", 0)).toBe(true);
        expect(store.hasAttempt("n", "f1", 1)).toBe(false);
      }));

    it("adds up counts and holds them once committed", () =>
      withStore(0, {}, (s) => {
        s.store.count("CREATED", 2);
        s.store.count("CREATED", -1);
        s.store.count("SUCCESS", 1);
        s.commit();
        expect(s.counts()).toMatchObject({ CREATED: 1, SUCCESS: 1 });
      }));

    it("makes a ready state due at its time", () =>
      withStore(0, {}, (s) => {
        s.store.insertState(row(1, { enqueue_after: 100 }));
        s.store.ready(1, 100);
        s.commit();
        expect(s.dueAt(99)).toEqual([]);
        expect(s.dueAt(100)).toEqual([1]);
      }));

    it("records a batch handed to a shard, and that the run uses shards", () =>
      withStore(0, {}, (s) => {
        expect(s.store.usesShards()).toBe(false);
        const batch: SpawnBatch = {
          head: { seq: 1, identifier: "p", node_name: "P", namespace: "t", parents: [], lineage: "" },
          spawn: [],
          members: [{ fanout_index: 1, outputs: { v: "1" }, inputs: [] }],
        };
        s.store.forward(1, batch);
        s.commit();
        expect(s.store.usesShards()).toBe(true);
      }));

    it("sends a shard's changes to the run actor's barriers, summed per barrier, when committed", () =>
      withStore(1, {}, (s) => {
        const delta = (pending: number, failed: number, add: number[]): BarrierDelta => ({
          unite: "u",
          exec_seq: 1,
          pending,
          failed,
          failed_add: add,
          failed_remove: [],
        });
        s.store.remoteBarrier(delta(1, 0, []));
        s.store.remoteBarrier(delta(-1, 1, [firstSeqOf(1)]));
        s.commit();
        const sent = s.takeRemoteDeltas();
        const sum = sent.reduce((a, d) => ({ pending: a.pending + d.pending, failed: a.failed + d.failed }), {
          pending: 0,
          failed: 0,
        });
        expect(sum).toEqual({ pending: 0, failed: 1 });
        expect(sent.flatMap((d) => d.failed_add)).toEqual([firstSeqOf(1)]);
      }));

    it("cancels every waiting and running state in bulk, answers the moves, and stays cancelled", () =>
      withStore(0, {}, (s) => {
        s.store.insertState(row(1, { status: "CREATED" }));
        s.store.insertState(row(2, { status: "QUEUED" }));
        s.store.insertState(row(3, { status: "EXECUTED" }));
        s.store.insertState(row(4, { status: "SUCCESS" }));
        s.store.insertState(row(5, { status: "CREATED" }));
        s.store.ready(1, 0);
        s.store.ready(5, 0);
        s.commit();
        expect(s.store.isCancelled()).toBe(false);
        expect(s.store.cancelPending("cancelled", 7)).toEqual({ CREATED: 2, QUEUED: 1, EXECUTED: 1 });
        s.commit();
        expect(s.store.isCancelled()).toBe(true);
        expect([1, 2, 3, 5].map((seq) => s.store.getState(seq)?.status)).toEqual(Array(4).fill("CANCELLED"));
        expect(s.store.getState(2)).toMatchObject({ error: "cancelled", updated_at: 7 });
        expect(s.store.getState(4)?.status).toBe("SUCCESS");
        expect(s.dueAt(10)).toEqual([]);
      }));
  });
}
