// @ts-check
// Lays a run's graph out in columns: a node's column is the length of the longest path to it from the
// root, following `next_nodes` and, for a unite, its target (a unite runs after the subtree it waits on).

/**
 * @typedef {{ identifier: string, next_nodes: string[], unites: { identifier: string } | null }} GraphNode
 */

/**
 * @param {GraphNode[]} nodes
 * @returns {{ columns: string[][], edges: { from: string, to: string, unites: boolean }[] }}
 */
export function layout(nodes) {
  const ids = new Set(nodes.map((n) => n.identifier));
  /** @type {{ from: string, to: string, unites: boolean }[]} */
  const edges = [];
  for (const n of nodes) {
    for (const next of n.next_nodes)
      if (ids.has(next)) edges.push({ from: n.identifier, to: next, unites: false });
    const target = n.unites?.identifier;
    if (target && ids.has(target)) edges.push({ from: target, to: n.identifier, unites: true });
  }
  /** @type {Map<string, number>} */
  const depth = new Map(nodes.map((n) => [n.identifier, 0]));
  // Longest paths by relaxation; a valid graph is acyclic, and the bound keeps a bad one from looping.
  for (let round = 0; round < nodes.length; round++) {
    let changed = false;
    for (const e of edges) {
      const d = (depth.get(e.from) ?? 0) + 1;
      if (d > (depth.get(e.to) ?? 0) && d < nodes.length) {
        depth.set(e.to, d);
        changed = true;
      }
    }
    if (!changed) break;
  }
  /** @type {string[][]} */
  const columns = [];
  for (const n of nodes) {
    const d = depth.get(n.identifier) ?? 0;
    columns[d] ??= [];
    columns[d].push(n.identifier);
  }
  return { columns: columns.filter((c) => c !== undefined), edges };
}
