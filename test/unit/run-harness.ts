// A tiny in-memory run: the engine over MemoryRunStore, with a scripted "runtime" that executes
// whatever is ready. Used by the engine's unit tests.
import { DEFAULT_RETRY_POLICY, type NodeTemplate, type RetryPolicy } from "../../src/engine/model";
import { runCounts, runStatus } from "../../src/engine/run/counts";
import { RunEngine } from "../../src/engine/run/engine";
import type { EngineEnv } from "../../src/engine/run/engine-core";
import { GraphIndex } from "../../src/engine/run/graph-index";
import { MemoryRunStore } from "../../src/engine/run/memory-store";
import type { NodeInfo, RunTemplateSnapshot } from "../../src/engine/run/snapshot";
import type { Report, RunStore, StateRow } from "../../src/engine/run/types";

export type Behaviour = (state: StateRow) => Omit<Report, "seq"> & { seq?: number };

export function node(
  identifier: string,
  inputs: Record<string, string>,
  next: string[] | null = null,
  unites: NodeTemplate["unites"] = null,
): NodeTemplate {
  return { node_name: identifier, namespace: "t", identifier, inputs, next_nodes: next, unites };
}

/** A run's template snapshot of `nodes`, every node a queue node whose input fields are its template's. */
export function runSnapshot(
  nodes: NodeTemplate[],
  opts: { retry?: Partial<RetryPolicy>; defaults?: Record<string, string> } = {},
): RunTemplateSnapshot {
  const node_info: Record<string, NodeInfo> = {};
  for (const n of nodes) {
    node_info[`t/${n.node_name}`] = { transport: "queue", secrets: [], inputFields: Object.keys(n.inputs) };
  }
  return {
    nodes,
    retry_policy: { ...DEFAULT_RETRY_POLICY, max_retries: 0, ...opts.retry },
    store_config: { required_keys: [], default_values: opts.defaults ?? {} },
    secrets: {},
    node_info,
  };
}

/** An engine of run "0123456789abcdef" over `store` (any RunStore), with `env` added to its environment. */
export function engineOver(store: RunStore, snapshot: RunTemplateSnapshot, env: Partial<EngineEnv> = {}) {
  let fanout = 0;
  return new RunEngine(store, new GraphIndex(snapshot), {
    runKey: "0123456789abcdef",
    namespace: "t",
    graphName: "g",
    retryPolicy: snapshot.retry_policy,
    newFanoutId: () => `f${++fanout}`,
    random: () => 0.5,
    ...env,
  });
}

export function makeRun(
  nodes: NodeTemplate[],
  opts: {
    store?: Record<string, string>;
    retry?: Partial<RetryPolicy>;
    defaults?: Record<string, string>;
  } = {},
) {
  const snapshot = runSnapshot(nodes, opts);
  const store = new MemoryRunStore(opts.store ?? {});
  const engine = engineOver(store, snapshot);
  let now = 1_000_000;
  const run = {
    store,
    engine,
    get now() {
      return now;
    },
    advance(ms: number) {
      now += ms;
    },
    start(inputs: Record<string, string> = {}) {
      engine.start(inputs, 0, now);
    },
    /** Claims every due ready state (CREATED → QUEUED). */
    claimDue(): StateRow[] {
      const due = [...store.readyAt.entries()].filter(([, t]) => t <= now).map(([s]) => s);
      for (const s of due) store.readyAt.delete(s);
      return engine.claim(due, now);
    },
    /** Runs rounds until nothing is ready: claim all, execute with `behaviour`, apply as one batch. */
    drain(behaviour: Behaviour, maxRounds = 100) {
      for (let i = 0; i < maxRounds; i++) {
        const claimed = run.claimDue();
        if (claimed.length === 0) return;
        engine.apply(
          claimed.map((s) => ({ ...behaviour(s), seq: s.seq }) as Report),
          now,
        );
      }
      throw new Error("run did not settle");
    },
    /** Runs exactly `n` claim-execute-apply rounds. */
    rounds(behaviour: Behaviour, n: number) {
      for (let i = 0; i < n; i++) {
        const claimed = run.claimDue();
        engine.apply(
          claimed.map((s) => ({ ...behaviour(s), seq: s.seq }) as Report),
          now,
        );
      }
    },
    states: (identifier: string) => store.byIdentifier(identifier),
    counts: () => runCounts(Object.fromEntries(store.counts)),
    status: () => runStatus(runCounts(Object.fromEntries(store.counts))),
  };
  return run;
}

export const sum = (json: string) => (JSON.parse(json) as number[]).reduce((a, b) => a + b, 0);
