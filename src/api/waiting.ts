// What a waiting run waits on, as clients see it: each node whose due states wait (from the run's
// actors), with who is registered to serve it and when a runtime last did (from the namespace actors).
// A node nobody serves shows `runtime_name: null` or an old `last_seen_at`; a slow one a recent one.
import { namespaceStub } from "../actors/namespace-actor";
import type { NodeServing } from "../actors/namespace-seen";
import type { WaitingNode } from "../contracts";

export interface Serving {
  /** The runtime registered to serve the node; null when no runtime registered it. */
  runtime_name: string | null;
  transport: string | null;
  /** When a runtime last polled for it or ran a batch of it; null: never. */
  last_seen_at: string | null;
}

export type WaitingView = WaitingNode & Serving;

const UNSERVED: Serving = { runtime_name: null, transport: null, last_seen_at: null };

/** Who serves each (namespace, node): one RPC per namespace involved. */
export async function servingOf(
  env: Env,
  nodes: readonly { namespace: string; node_name: string }[],
): Promise<(ns: string, name: string) => Serving> {
  const byNamespace = new Map<string, Set<string>>();
  for (const n of nodes) {
    const names = byNamespace.get(n.namespace) ?? new Set<string>();
    names.add(n.node_name);
    byNamespace.set(n.namespace, names);
  }
  const answers = new Map<string, Record<string, NodeServing>>();
  await Promise.all(
    [...byNamespace].map(async ([ns, names]) => {
      answers.set(ns, await namespaceStub(env, ns).nodesServing([...names]));
    }),
  );
  return (ns, name) => answers.get(ns)?.[name] ?? UNSERVED;
}

/** The run's waiting nodes with who serves them; undefined when the run does not wait. */
export async function describeWaiting(
  env: Env,
  waiting: readonly WaitingNode[] | undefined,
): Promise<WaitingView[] | undefined> {
  if (!waiting || waiting.length === 0) return undefined;
  const serving = await servingOf(env, waiting);
  return waiting.map((w) => ({ ...w, ...serving(w.namespace, w.node_name) }));
}
