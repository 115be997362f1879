// What the demo and the CLI say when the engine reports that a run waits (scripts/lib/waiting.mjs).
import { describe, expect, it } from "vitest";
import { describeWaiting, isUnserved, waitsOnUnserved } from "../../scripts/lib/waiting.mjs";

const now = Date.parse("2026-12-02T12:00:00Z");
const base = {
  identifier: "processor",
  node_name: "DataProcessorNode",
  namespace: "examples",
  states: 5,
  since: "2026-12-02T11:58:00",
};

describe("waiting runs, in words", () => {
  it("tells a node nobody registered, one never served, one served long ago, and one served just now", () => {
    const never = { ...base, runtime_name: "py", transport: "pull", last_seen_at: null };
    const nobody = { ...base, runtime_name: null, transport: null, last_seen_at: null };
    const old = { ...base, runtime_name: "py", transport: "pull", last_seen_at: "2026-12-02T11:50:00" };
    const fresh = { ...base, runtime_name: "rt", transport: "queue", last_seen_at: "2026-12-02T11:59:55" };
    expect([never, nobody, old, fresh].map((w) => isUnserved(w, now))).toEqual([true, true, true, false]);
    expect(describeWaiting([nobody], now)).toBe(
      "5 state(s) of node DataProcessorNode (processor, namespace examples) wait since 2026-12-02T11:58:00; " +
        "no runtime has registered DataProcessorNode",
    );
    expect(describeWaiting([never], now)).toContain(
      'pull runtime "py" is registered for it but has never served it',
    );
    expect(describeWaiting([old], now)).toContain('pull runtime "py" last served it 600 s ago');
    expect(describeWaiting([fresh], now)).toContain('queue runtime "rt" last served it 5 s ago');
  });

  it("gives up on a run only when every node it waits on is unserved", () => {
    const unserved = { ...base, runtime_name: null, transport: null, last_seen_at: null };
    const served = { ...base, runtime_name: "rt", transport: "queue", last_seen_at: "2026-12-02T11:59:59" };
    expect(waitsOnUnserved({ waiting: [unserved] }, now)).toBe(true);
    expect(waitsOnUnserved({ waiting: [unserved, served] }, now)).toBe(false);
    expect(waitsOnUnserved({ waiting: [] }, now)).toBe(false);
    expect(waitsOnUnserved({}, now)).toBe(false);
  });
});
