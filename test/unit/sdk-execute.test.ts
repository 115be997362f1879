import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import {
  type AnyNode,
  BaseNode,
  executeNode,
  type NodeContext,
  PruneSignal,
  ReQueueAfterSignal,
} from "../../src/sdk";

const ctx = { stateId: "state-1", runId: "run-1" };

const Inputs = z.object({ text: z.string() });
const Outputs = z.object({ word: z.string() });
const Secrets = z.object({ TOKEN: z.string().min(4) });

type Behaviour = (
  inputs: z.infer<typeof Inputs>,
  ctx: NodeContext<z.infer<typeof Secrets>>,
) => unknown | Promise<unknown>;

/** A node whose execute is supplied by the test. */
function node(behaviour: Behaviour): AnyNode {
  class ProbeNode extends BaseNode<typeof Inputs, typeof Outputs, typeof Secrets> {
    readonly inputs = Inputs;
    readonly outputs = Outputs;
    override readonly secrets = Secrets;
    async execute(inputs: z.infer<typeof Inputs>, c: NodeContext<z.infer<typeof Secrets>>) {
      return (await behaviour(inputs, c)) as z.infer<typeof Outputs>;
    }
  }
  return new ProbeNode();
}

const secrets = { TOKEN: "s3cr3t-value", OTHER_GRAPH_SECRET: "not-for-this-node" };

describe("executeNode", () => {
  it("reports a node that runs past its timeout as errored with a timeout reason", async () => {
    vi.useFakeTimers();
    try {
      const never = node(() => new Promise(() => {}));
      const outcome = executeNode(never, { text: "hi" }, secrets, { ...ctx, timeoutMs: 2_000 });
      await vi.advanceTimersByTimeAsync(2_000);
      expect(await outcome).toEqual({
        type: "errored",
        error: "Timed out: the node ran longer than its timeout_seconds (2 s)",
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it("answers a node that finishes within its timeout as usual", async () => {
    const quick = node(({ text }) => ({ word: text }));
    expect(await executeNode(quick, { text: "hi" }, secrets, { ...ctx, timeoutMs: 60_000 })).toEqual({
      type: "executed",
      outputs: [{ word: "hi" }],
    });
  });

  it("runs the node with parsed inputs and reports one output", async () => {
    const probe = node(({ text }) => ({ word: text.toUpperCase() }));
    expect(await executeNode(probe, { text: "hi" }, secrets, ctx)).toEqual({
      type: "executed",
      outputs: [{ word: "HI" }],
    });
  });

  it("fans out an array of outputs, in order", async () => {
    const probe = node(({ text }) => text.split(" ").map((word) => ({ word })));
    expect(await executeNode(probe, { text: "a b c" }, secrets, ctx)).toEqual({
      type: "executed",
      outputs: [{ word: "a" }, { word: "b" }, { word: "c" }],
    });
  });

  it("reports zero outputs when execute returns nothing, null or an empty array", async () => {
    for (const result of [undefined, null, []]) {
      expect(
        await executeNode(
          node(() => result),
          { text: "x" },
          secrets,
          ctx,
        ),
      ).toEqual({
        type: "executed",
        outputs: [],
      });
    }
  });

  it("accepts a synchronous execute", async () => {
    class SyncNode extends BaseNode<typeof Inputs, typeof Outputs> {
      readonly inputs = Inputs;
      readonly outputs = Outputs;
      execute({ text }: z.infer<typeof Inputs>) {
        return { word: text };
      }
    }
    expect(await executeNode(new SyncNode(), { text: "x" }, {}, ctx)).toEqual({
      type: "executed",
      outputs: [{ word: "x" }],
    });
  });

  it("ignores unknown input keys and strips undeclared output keys", async () => {
    let seen: unknown;
    const probe = node((inputs) => {
      seen = inputs;
      return { word: "w", extra: "dropped" };
    });
    expect(await executeNode(probe, { text: "t", unused: "u" }, secrets, ctx)).toEqual({
      type: "executed",
      outputs: [{ word: "w" }],
    });
    expect(seen).toEqual({ text: "t" });
  });

  it("passes only the declared secrets, and the state and run ids", async () => {
    let seen: NodeContext<unknown> | undefined;
    await executeNode(
      node((_, c) => {
        seen = c;
        return [];
      }),
      { text: "t" },
      secrets,
      ctx,
    );
    expect(seen).toEqual({ secrets: { TOKEN: "s3cr3t-value" }, stateId: "state-1", runId: "run-1" });
  });

  it("errors, naming the field, when an input is missing or not a string", async () => {
    const probe = node(() => ({ word: "never" }));
    const missing = await executeNode(probe, {}, secrets, ctx);
    expect(missing).toEqual({
      type: "errored",
      error: expect.stringMatching(/^Invalid inputs for node 'ProbeNode': field 'text': .*expected string/),
    });
    const wrongType = await executeNode(probe, { text: 42 }, secrets, ctx);
    expect(wrongType.type === "errored" && wrongType.error).toMatch(/field 'text'.*received number/);
  });

  it("does not run the node when its inputs are invalid", async () => {
    let ran = false;
    await executeNode(
      node(() => {
        ran = true;
      }),
      { text: 1 },
      secrets,
      ctx,
    );
    expect(ran).toBe(false);
  });

  it("errors without quoting the value when a declared secret is missing or invalid", async () => {
    const probe = node(() => ({ word: "never" }));
    expect(await executeNode(probe, { text: "t" }, { OTHER: "x" }, ctx)).toEqual({
      type: "errored",
      error: "Invalid secrets for node 'ProbeNode': secret 'TOKEN' is missing",
    });
    const tooShort = await executeNode(probe, { text: "t" }, { TOKEN: "abc" }, ctx);
    expect(tooShort).toEqual({
      type: "errored",
      error: "Invalid secrets for node 'ProbeNode': secret 'TOKEN' is invalid (too_small)",
    });
  });

  it("errors, naming the output and field, when an output does not match the schema", async () => {
    const single = await executeNode(
      node(() => ({ word: 7 })),
      { text: "t" },
      secrets,
      ctx,
    );
    expect(single.type === "errored" && single.error).toMatch(
      /^Invalid outputs from node 'ProbeNode': the output: field 'word': .*expected string/,
    );
    const second = await executeNode(
      node(() => [{ word: "ok" }, {}]),
      { text: "t" },
      secrets,
      ctx,
    );
    expect(second.type === "errored" && second.error).toMatch(/output 1: field 'word'/);
    const notAnObject = await executeNode(
      node(() => "just a string"),
      { text: "t" },
      secrets,
      ctx,
    );
    expect(notAnObject.type).toBe("errored");
  });

  it("turns a thrown error into errored with its message", async () => {
    const probe = node(() => {
      throw new Error("upstream said no");
    });
    expect(await executeNode(probe, { text: "t" }, secrets, ctx)).toEqual({
      type: "errored",
      error: "upstream said no",
    });
  });

  it("turns a rejected promise and thrown non-errors into errored", async () => {
    expect(
      await executeNode(
        node(() => Promise.reject(new TypeError("bad"))),
        { text: "t" },
        secrets,
        ctx,
      ),
    ).toEqual({ type: "errored", error: "bad" });
    expect(
      await executeNode(
        node(() => {
          throw "plain string";
        }),
        { text: "t" },
        secrets,
        ctx,
      ),
    ).toEqual({ type: "errored", error: "plain string" });
    expect(
      await executeNode(
        node(() => {
          throw { code: 7 };
        }),
        { text: "t" },
        secrets,
        ctx,
      ),
    ).toEqual({ type: "errored", error: '{"code":7}' });
  });

  it("never lets a secret value appear in an error", async () => {
    const probe = node((_, c) => {
      throw new Error(`GET https://api.example/?key=${c.secrets.TOKEN} failed`);
    });
    const outcome = await executeNode(probe, { text: "t" }, secrets, ctx);
    expect(outcome).toEqual({ type: "errored", error: "GET https://api.example/?key=[redacted] failed" });

    const leaksOther = node(() => {
      throw new Error("found not-for-this-node somewhere");
    });
    const other = await executeNode(leaksOther, { text: "t" }, secrets, ctx);
    expect(other.type === "errored" && other.error).not.toContain("not-for-this-node");
  });

  it("maps PruneSignal to pruned with its data", async () => {
    const probe = node(() => {
      throw new PruneSignal({ reason: "empty" });
    });
    expect(await executeNode(probe, { text: "t" }, secrets, ctx)).toEqual({
      type: "pruned",
      data: { reason: "empty" },
    });
  });

  it("reports prune data nested deeper than an RPC can carry as a node error", async () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 5_000; i++) deep = { a: deep };
    const probe = node(() => {
      throw new PruneSignal(deep);
    });
    const outcome = await executeNode(probe, { text: "t" }, secrets, ctx);
    expect(outcome.type).toBe("errored");
    expect(outcome.type === "errored" && outcome.error).toContain("nests deeper than 128 levels");
  });

  it("maps ReQueueAfterSignal to requeue with its delay", async () => {
    const probe = node(async () => {
      throw new ReQueueAfterSignal({ seconds: 30 });
    });
    expect(await executeNode(probe, { text: "t" }, secrets, ctx)).toEqual({
      type: "requeue",
      delayMs: 30_000,
    });
  });

  it("reports an invalid ReQueueAfterSignal as a node error", async () => {
    const probe = node(() => {
      throw new ReQueueAfterSignal(0);
    });
    const outcome = await executeNode(probe, { text: "t" }, secrets, ctx);
    expect(outcome.type === "errored" && outcome.error).toMatch(/must be positive/);
  });

  it("errors instead of throwing when the node definition is broken", async () => {
    class BrokenNode extends BaseNode {
      readonly inputs = z.object({ n: z.number() }) as never;
      readonly outputs = z.object({});
      execute() {}
    }
    const outcome = await executeNode(new BrokenNode(), { n: 1 }, {}, ctx);
    expect(outcome.type === "errored" && outcome.error).toMatch(
      /^Node 'BrokenNode' cannot run: Node 'BrokenNode': inputs field 'n' must be/,
    );
  });

  it("errors instead of throwing when reading the node throws", async () => {
    class ExplodingNode extends BaseNode {
      get inputs(): never {
        throw new Error("boom");
      }
      readonly outputs = z.object({});
      execute() {}
    }
    expect(await executeNode(new ExplodingNode(), {}, {}, ctx)).toEqual({ type: "errored", error: "boom" });
  });
});

describe("a node that yields its outputs", () => {
  const Yielding = class extends BaseNode<typeof Inputs, typeof Outputs> {
    static override nodeName = "Yielding";
    override readonly inputs = Inputs;
    override readonly outputs = Outputs;
    *execute({ text }: z.infer<typeof Inputs>) {
      // "bad" yields an output its schema refuses (past the type checker, as a JavaScript node could).
      for (const word of text.split(" "))
        yield word === "bad" ? ({ word: 7 } as unknown as { word: string }) : { word };
    }
  };

  it("collects a generator's outputs when nobody streams them (the pull runtime)", async () => {
    const outcome = await executeNode(new Yielding(), { text: "a b c" }, {}, ctx);
    expect(outcome).toEqual({ type: "executed", outputs: [{ word: "a" }, { word: "b" }, { word: "c" }] });
  });

  it("errors on an invalid yielded output, naming its index", async () => {
    const outcome = await executeNode(new Yielding(), { text: "a bad" }, {}, ctx);
    expect(outcome).toMatchObject({ type: "errored" });
    expect(outcome.type === "errored" && outcome.error).toMatch(
      /Invalid outputs from node 'Yielding': output 1/,
    );
  });
});
