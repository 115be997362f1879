// Push-runtime nodes used by integration tests (namespace "ctl"), served by a runtime Worker of their own
// (worker.ts) beside the engine, as a user's would be. Their behaviour is driven by inputs,
// so each test states what should happen in the graph it upserts.

import { BaseNode, createRuntime, type NodeContext, PruneSignal, ReQueueAfterSignal } from "exoflare";
import { z } from "zod";

export const TEST_NAMESPACE = "ctl";

const attempts = new Map<string, number>();

/** Counts calls per `key`; fails while the count is at most `fail_times`, then echoes `value`. */
class FlakyNode extends BaseNode<typeof FlakyInputs, typeof EchoOutputs> {
  static override nodeName = "FlakyNode";
  override readonly inputs = FlakyInputs;
  override readonly outputs = EchoOutputs;
  async execute(inputs: z.infer<typeof FlakyInputs>) {
    const n = (attempts.get(inputs.key) ?? 0) + 1;
    attempts.set(inputs.key, n);
    if (n <= Number(inputs.fail_times)) throw new Error(`attempt ${n} of ${inputs.key} failed`);
    return { value: inputs.value };
  }
}
const FlakyInputs = z.object({ key: z.string(), fail_times: z.string(), value: z.string() });
const EchoOutputs = z.object({ value: z.string() });

/** Fans out one branch per item of a JSON array. */
class ListNode extends BaseNode<typeof ListInputs, typeof EchoOutputs> {
  static override nodeName = "ListNode";
  override readonly inputs = ListInputs;
  override readonly outputs = EchoOutputs;
  async execute(inputs: z.infer<typeof ListInputs>) {
    return (JSON.parse(inputs.items) as string[]).map((value) => ({ value }));
  }
}
const ListInputs = z.object({ items: z.string() });

/** "prune" prunes, "requeue:<key>:<n>" requeues n times then succeeds, anything else echoes. */
class SignalNode extends BaseNode<typeof SignalInputs, typeof EchoOutputs> {
  static override nodeName = "SignalNode";
  override readonly inputs = SignalInputs;
  override readonly outputs = EchoOutputs;
  async execute(inputs: z.infer<typeof SignalInputs>) {
    if (inputs.value === "prune") throw new PruneSignal({ reason: "pruned by test" });
    if (inputs.value.startsWith("requeue:")) {
      const [, key = "", times = "0"] = inputs.value.split(":");
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      if (n <= Number(times)) throw new ReQueueAfterSignal(1);
    }
    return { value: inputs.value };
  }
}
const SignalInputs = z.object({ value: z.string() });

/** Fails every attempt when `value` starts with "fail", echoes it otherwise. */
class FailNode extends BaseNode<typeof SignalInputs, typeof EchoOutputs> {
  static override nodeName = "FailNode";
  override readonly inputs = SignalInputs;
  override readonly outputs = EchoOutputs;
  async execute(inputs: z.infer<typeof SignalInputs>) {
    if (inputs.value.startsWith("fail")) throw new Error(`${inputs.value} failed as asked`);
    return { value: inputs.value };
  }
}

/** Copies of CountingNode running now, per `key` (one isolate runs the test runtime's consumer). */
const running = new Map<string, number>();

/**
 * Records how many copies with the same `key` run at once: it answers the count it saw when it started,
 * then works for `ms` milliseconds (a slow API call), so copies handed out together overlap.
 */
class CountingNode extends BaseNode<typeof CountingInputs, typeof EchoOutputs> {
  static override nodeName = "CountingNode";
  override readonly inputs = CountingInputs;
  override readonly outputs = EchoOutputs;
  async execute(inputs: z.infer<typeof CountingInputs>) {
    const now = (running.get(inputs.key) ?? 0) + 1;
    running.set(inputs.key, now);
    try {
      await new Promise((resolve) => setTimeout(resolve, Number(inputs.ms)));
    } finally {
      running.set(inputs.key, (running.get(inputs.key) ?? 1) - 1);
    }
    return { value: String(now) };
  }
}
const CountingInputs = z.object({ key: z.string(), ms: z.string(), item: z.string() });

/** Never finishes: only a timeout ends it. */
class HangNode extends BaseNode<typeof SignalInputs, typeof EchoOutputs> {
  static override nodeName = "HangNode";
  override readonly inputs = SignalInputs;
  override readonly outputs = EchoOutputs;
  async execute(): Promise<{ value: string }> {
    return new Promise(() => {});
  }
}

/** Reports which secrets it was given (names only, and one value's length) — never the values. */
class SecretNode extends BaseNode<typeof SecretInputs, typeof SecretOutputs, typeof SecretNames> {
  static override nodeName = "SecretNode";
  override readonly inputs = SecretInputs;
  override readonly outputs = SecretOutputs;
  override readonly secrets = SecretNames;
  async execute(_inputs: z.infer<typeof SecretInputs>, ctx: NodeContext<z.infer<typeof SecretNames>>) {
    return {
      seen: Object.keys(ctx.secrets).sort().join(","),
      token_matches: String(ctx.secrets.api_token === "s3cr3t-token"),
    };
  }
}
const SecretInputs = z.object({ value: z.string() });
const SecretOutputs = z.object({ seen: z.string(), token_matches: z.string() });
const SecretNames = z.object({ api_token: z.string() });

export const testRuntime = createRuntime({
  namespace: TEST_NAMESPACE,
  name: "test-runtime",
  queue: "TEST_QUEUE",
  nodes: [
    new FlakyNode(),
    new ListNode(),
    new SignalNode(),
    new SecretNode(),
    new FailNode(),
    new CountingNode(),
    new HangNode(),
  ],
});

/** A node template for the test runtime's namespace. */
export const ctlNode = (
  identifier: string,
  node_name: string,
  inputs: Record<string, string>,
  extra = {},
) => ({
  node_name,
  namespace: TEST_NAMESPACE,
  identifier,
  inputs,
  next_nodes: [] as string[],
  ...extra,
});
