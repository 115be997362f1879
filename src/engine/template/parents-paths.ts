// Exosphere's template-level parent/path computation (spec §4.1.3, `_build_parents_path_by_identifier`),
// replicated step for step: which graphs are accepted depends on its quirks (DFS order, deferred unites).
import type { NodeTemplate } from "../model";
import { pyRepr } from "./py-repr";

export interface ParentsAndPaths {
  /** identifier → identifiers whose outputs its inputs may reference (Exosphere's rule) */
  parents: Map<string, Set<string>>;
  /** identifier → identifiers on some next_nodes path from the root to it; a node in its own path is a cycle */
  paths: Map<string, Set<string>>;
}

/** The DFS found unite nodes whose target it never reached ("Graph is disconnected at: ..."). */
export class DependencyGraphError extends Error {
  override readonly name = "DependencyGraphError";
}

interface Call {
  id: string;
  parents: ReadonlySet<string>;
  path: ReadonlySet<string>;
}

const union = (a: ReadonlySet<string>, b: Iterable<string>): Set<string> => {
  const out = new Set(a);
  for (const x of b) out.add(x);
  return out;
};

/**
 * Runs the DFS from `rootId`. Written with an explicit stack so a long chain cannot overflow the call
 * stack; the frames replay the recursive version's call order exactly: a node's deferred unites first,
 * then its `next_nodes` in list order, each subtree finished before the next call starts.
 * MUST be given nodes with unique identifiers whose next_nodes and unites targets exist (rules 3–5).
 */
export function buildParentsAndPaths(nodes: readonly NodeTemplate[], rootId: string): ParentsAndPaths {
  const byId = new Map(nodes.map((n) => [n.identifier, n]));
  const parents = new Map<string, Set<string>>();
  const paths = new Map<string, Set<string>>();
  for (const n of nodes) {
    parents.set(n.identifier, new Set());
    paths.set(n.identifier, new Set());
  }
  const visited = new Set<string>();
  // unite target → unite nodes reached before their target, waiting for its parents
  const awaiting = new Map<string, string[]>();

  const parentsOf = (id: string) => parents.get(id) ?? new Set<string>();
  const pathOf = (id: string) => paths.get(id) ?? new Set<string>();

  /** One recursive call's work before it recurses; returns the calls it makes next, if any. */
  const enter = (call: Call): Call[] | undefined => {
    const { id } = call;
    parents.set(id, union(call.parents, parentsOf(id)));
    paths.set(id, union(call.path, pathOf(id)));
    if (visited.has(id)) return undefined;
    visited.add(id);
    const node = byId.get(id);
    if (!node) throw new DependencyGraphError(`Node ${id} not found`);

    let childParents: Set<string>;
    if (node.unites === null) {
      // Only this call's parents, not the merged set: children inherit from the first visit alone.
      childParents = union(call.parents, [id]);
    } else if (visited.has(node.unites.identifier)) {
      const target = node.unites.identifier;
      childParents = union(parentsOf(target), [target]);
      parents.set(id, new Set(childParents));
    } else {
      const list = awaiting.get(node.unites.identifier) ?? [];
      list.push(id);
      awaiting.set(node.unites.identifier, list);
      return undefined;
    }

    const calls: Call[] = [];
    // Deferred unite nodes are already visited, so these calls only merge parents into them.
    for (const waiting of awaiting.get(id) ?? []) {
      calls.push({ id: waiting, parents: childParents, path: pathOf(waiting) });
    }
    awaiting.delete(id);
    const childPath = union(call.path, [id]);
    for (const next of node.next_nodes ?? [])
      calls.push({ id: next, parents: childParents, path: childPath });
    return calls;
  };

  const stack: { calls: Call[]; next: number }[] = [];
  const first = enter({ id: rootId, parents: new Set(), path: new Set() });
  if (first) stack.push({ calls: first, next: 0 });
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    if (!frame) break;
    const call = frame.calls[frame.next];
    if (!call) {
      stack.pop();
      continue;
    }
    frame.next += 1;
    const calls = enter(call);
    if (calls) stack.push({ calls, next: 0 });
  }

  if (awaiting.size > 0) {
    const entries = [...awaiting].map(([target, ids]) => `${pyRepr(target)}: ${pyRepr(ids)}`);
    throw new DependencyGraphError(`Graph is disconnected at: {${entries.join(", ")}}`);
  }
  return { parents, paths };
}
