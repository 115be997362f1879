// Packing ready states into queue messages and sendBatch calls within the platform's limits.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DispatchedState, DispatchMessage, parseDispatchMessage } from "../../src/contracts/dispatch";
import { byteLength, jsonBytes, packMessages } from "../../src/dispatch/pack";
import { MAX_BATCH_BYTES, MAX_BATCH_MESSAGES, MAX_MESSAGE_BYTES } from "../../src/engine/limits";

const state = (i: number, inputBytes = 10): DispatchedState => ({
  id: `0123456789abcdef${i.toString(16).padStart(8, "0")}`,
  node: "N",
  ns: "t",
  identifier: "n",
  inputs: { v: "x".repeat(inputBytes) },
});

const state0 = state;

function check(batches: ReturnType<typeof packMessages>, states: DispatchedState[], perMessage: number) {
  // Every state exactly once, in order.
  expect(batches.flat().flatMap((m) => m.states)).toEqual(states);
  for (const batch of batches) {
    expect(batch.length).toBeLessThanOrEqual(MAX_BATCH_MESSAGES);
    expect(batch.reduce((sum, m) => sum + byteLength(m), 0)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    for (const message of batch) {
      expect(message.states.length).toBeLessThanOrEqual(perMessage);
      expect(byteLength(message)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      expect(message).toMatchObject({ v: 1, run: "r" });
    }
  }
}

describe("packMessages", () => {
  it("puts at most statesPerMessage states in a message and 100 messages in a batch", () => {
    const states = Array.from({ length: 10_000 }, (_, i) => state(i));
    const batches = packMessages("r", states, { statesPerMessage: 16 });
    check(batches, states, 16);
    expect(batches.flat()).toHaveLength(625);
    expect(batches[0]).toHaveLength(MAX_BATCH_MESSAGES);
  });

  it("cuts messages and batches by bytes when states are large", () => {
    const states = Array.from({ length: 300 }, (_, i) => state(i, 15_000));
    const batches = packMessages("r", states, { statesPerMessage: 64 });
    check(batches, states, 64);
    // ~15 KB a state: a batch of 240 KB holds far fewer than 100 messages.
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThan(MAX_BATCH_MESSAGES);
  });

  it("sends nothing for no states", () => {
    expect(packMessages("r", [], { statesPerMessage: 64 })).toEqual([]);
  });
});

describe("jsonBytes", () => {
  // Text of every kind: plain, quotes and backslashes, control characters, non-ASCII, lone and paired surrogates.
  const text = fc.string({
    unit: fc.constantFrom("x", "7", " ", '"', "\\", "\n", "\u0001", "\u007f", "é", "😀", "\ud800", "\udc00"),
  });
  const value = fc.letrec((tie) => ({
    any: fc.oneof(
      { depthSize: "small" },
      text,
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.constant(() => 1),
      fc.array(tie("any"), { maxLength: 4 }),
      fc.dictionary(text, tie("any"), { maxKeys: 4 }),
    ),
  })).any;

  it("is the UTF-8 length of JSON.stringify, for any value", () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(jsonBytes(v)).toBe(byteLength(v));
      }),
      { numRuns: 3_000 },
    );
  });

  it("measures a dispatched state as its JSON", () => {
    const s = { ...state(3, 40), d: -2, secrets: true, timeout: 1.5, inputs: { v: 'a"b', é: "😀" } };
    expect(jsonBytes(s)).toBe(new TextEncoder().encode(JSON.stringify(s)).length);
    expect(jsonBytes(new Date(0))).toBe(byteLength(new Date(0)));
    expect(jsonBytes(Object.assign(Object.create(null), { a: "b" }))).toBe(9);
  });
});

describe("parseDispatchMessage", () => {
  // A body in the dispatcher's shape, then at most one field set to a value of any kind (or an unknown key
  // added): the hand-written check must accept exactly what the zod schema accepts, with the same data.
  const anything = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.boolean(),
    fc.string({ maxLength: 4 }),
    fc.constantFrom(
      0,
      -0,
      1,
      -1,
      0.5,
      Number.MIN_VALUE,
      2 ** 53,
      2 ** 53 - 1,
      -(2 ** 53),
      Number.NaN,
      Number.POSITIVE_INFINITY,
    ),
    fc.integer(),
    fc.double(),
    fc.constant([]),
    fc.constant({}),
    fc.constant({ k: 1 }),
  );
  const validState = fc.record(
    {
      id: fc.string({ maxLength: 4 }),
      node: fc.string({ maxLength: 4 }),
      ns: fc.string({ maxLength: 4 }),
      identifier: fc.string({ maxLength: 4 }),
      inputs: fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), { maxKeys: 3 }),
      secrets: fc.boolean(),
      timeout: fc.double({ min: Number.MIN_VALUE, max: 1e6, noNaN: true }),
      d: fc.maxSafeInteger(),
    },
    { requiredKeys: ["id", "node", "ns", "identifier"] },
  );
  const validBody = fc.record({
    v: fc.constant(1),
    run: fc.string({ maxLength: 4 }),
    states: fc.array(validState, { minLength: 1, maxLength: 3 }),
  });
  // Every field the schema declares (a field added to it is mutated too), an unknown key, an input value.
  const stateFields = [...Object.keys(DispatchedState.shape), "extra", "input value"];
  const mutation = fc.option(
    fc.record({
      where: fc.constantFrom("v", "run", "states", "extra", ...stateFields),
      at: fc.nat(),
      value: anything,
    }),
    { freq: 4 },
  );
  const mutate = (body: Record<string, unknown>, m: { where: string; at: number; value: unknown } | null) => {
    if (!m) return body;
    if (["v", "run", "states", "extra"].includes(m.where)) return { ...body, [m.where]: m.value };
    const states = [...(body.states as Record<string, unknown>[])];
    const i = m.at % states.length;
    const target = { ...(states[i] as Record<string, unknown>) };
    if (m.where === "input value") target.inputs = { ...(target.inputs as object), x: m.value };
    else target[m.where] = m.value;
    states[i] = target;
    return { ...body, states };
  };

  it("accepts exactly the bodies the schema accepts, with the same data", () => {
    fc.assert(
      fc.property(validBody, mutation, (body, m) => {
        const b = mutate(body, m);
        const ours = parseDispatchMessage(b);
        const zod = DispatchMessage.safeParse(b);
        expect(ours.success).toBe(zod.success);
        if (ours.success && zod.success) expect(ours.data).toEqual(zod.data);
        // An unmutated body is one the dispatcher could send: always accepted.
        if (!m) expect(ours.success).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("answers a body in the dispatcher's exact shape as it is, without zod", () => {
    const message = {
      v: 1 as const,
      run: "r",
      states: [state0(1), { ...state0(2), secrets: true, timeout: 2, d: -3 }],
    };
    const parsed = parseDispatchMessage(message);
    expect(parsed.success && parsed.data).toBe(message);
    // An unknown key goes to zod, which strips it.
    const stripped = parseDispatchMessage({ ...message, extra: 1 });
    expect(stripped.success && stripped.data).toEqual(message);
    expect(stripped.success && "extra" in stripped.data).toBe(false);
  });
});
