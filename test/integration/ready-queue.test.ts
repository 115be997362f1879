// The ready-queue actor's own contract: offers, takes and acks of a batch are each one statement, and
// keep the rules the pull path relies on.
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { RETAKE_AFTER_MS } from "../../src/engine/limits";

const queue = () => env.READY_QUEUE.getByName(`test-${crypto.randomUUID()}`);

describe("the ready-queue actor", () => {
  it("hands out due refs oldest first, each once until it is acked or its retake time passes", async () => {
    const q = queue();
    await q.offer([
      { id: "c", due: 30 },
      { id: "a", due: 10 },
      { id: "b", due: 20 },
      { id: "later", due: 1_000 },
    ]);
    expect(await q.take(2, 100)).toEqual(["a", "b"]);
    expect(await q.take(10, 100)).toEqual(["c"]);
    expect(await q.take(10, 100)).toEqual([]);
    // Taken but never acked (the poller died): handed out again once the retake time has passed.
    expect(await q.take(10, 100 + RETAKE_AFTER_MS + 1)).toEqual(["a", "b", "c", "later"]);
    await q.ack(["a", "b"]);
    expect(await q.size()).toBe(2);
    expect(await q.take(10, 2_000 + 2 * RETAKE_AFTER_MS)).toEqual(["c", "later"]);
  });

  it("re-offers a ref with its new due time, and an ack after a re-offer leaves the ref in place", async () => {
    const q = queue();
    await q.offer([
      { id: "x", due: 10 },
      { id: "y", due: 10 },
    ]);
    expect(await q.take(10, 50)).toEqual(["x", "y"]);
    // x is requeued by its run (offered again, due later) between the take and the ack.
    await q.offer([
      { id: "x", due: 500 },
      { id: "x", due: 400 },
    ]);
    await q.ack(["x", "y"]);
    expect(await q.size()).toBe(1);
    expect(await q.take(10, 399)).toEqual([]);
    expect(await q.take(10, 400)).toEqual(["x"]);
  });

  it("keeps no storage for a queue that was only polled or acked", async () => {
    const q = queue();
    expect(await q.take(5, 100)).toEqual([]);
    await q.ack(["nothing"]);
    expect(await q.size()).toBe(0);
  });

  it("holds a waiting poll until an offer or its deadline, and does not hold it when a ref is takeable", async () => {
    const q = queue();
    // Nothing offered: the wait runs to its deadline.
    const t0 = Date.now();
    await q.waitForOffer(150);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);

    const waiting = q.waitForOffer(15_000);
    await vi.waitUntil(async () => (await q.waiting()) === 1);
    await q.offer([{ id: "a", due: 0 }]);
    await waiting;
    expect(await q.waiting()).toBe(0);
    // A takeable ref: no wait at all.
    await q.waitForOffer(15_000);
    expect(await q.waiting()).toBe(0);
    // Taken (and not yet retakeable), or due only later: the poll waits, until the next offer.
    expect(await q.take(1)).toEqual(["a"]);
    await q.offer([{ id: "later", due: Date.now() + 3_600_000 }]);
    const held = q.waitForOffer(15_000);
    await vi.waitUntil(async () => (await q.waiting()) === 1);
    await q.offer([{ id: "b", due: 0 }]);
    await held;
    expect(await q.waiting()).toBe(0);
  });

  it("ends a wait when a ref offered earlier becomes due, not only at its deadline", async () => {
    const q = queue();
    const due = Date.now() + 300;
    await q.offer([{ id: "later", due }]);
    const t0 = Date.now();
    await q.waitForOffer(15_000);
    expect(Date.now()).toBeGreaterThanOrEqual(due);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await q.take(1)).toEqual(["later"]);
  });
});
