// Which nodes a unite node may read as "the united subtree" (design §4, FIX): Exosphere lets a unite node
// reference only its target and the target's ancestors; we also allow nodes that run below the target,
// whose outputs the run engine renders as a JSON array over every branch.
import type { NodeTemplate } from "../model";

/**
 * Identifiers that run below `fromIdentifier`: reachable through next_nodes edges, and through unite
 * edges too (a unite node whose target runs below it runs below it as well), excluding itself.
 */
export function subtreeNodes(nodes: readonly NodeTemplate[], fromIdentifier: string): Set<string> {
  const byId = new Map(nodes.map((n) => [n.identifier, n]));
  const seen = new Set<string>();
  const queue = [...(byId.get(fromIdentifier)?.next_nodes ?? [])];
  const visit = () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      if (seen.has(id)) continue;
      seen.add(id);
      queue.push(...(byId.get(id)?.next_nodes ?? []));
    }
  };
  visit();
  for (let grew = true; grew; ) {
    grew = false;
    for (const n of nodes) {
      const target = n.unites?.identifier;
      if (target === undefined || seen.has(n.identifier)) continue;
      if (target === fromIdentifier || seen.has(target)) {
        queue.push(n.identifier);
        visit();
        grew = true;
      }
    }
  }
  seen.delete(fromIdentifier);
  return seen;
}

/**
 * The nodes inside `unite`'s united subtree: below its target, but neither the unite node itself nor
 * anything that runs after it (those have not run when the barrier fires). Empty for a non-unite node.
 */
export function unitedSubtree(nodes: readonly NodeTemplate[], unite: NodeTemplate): Set<string> {
  if (unite.unites === null) return new Set();
  const inside = subtreeNodes(nodes, unite.unites.identifier);
  inside.delete(unite.identifier);
  for (const id of subtreeNodes(nodes, unite.identifier)) inside.delete(id);
  return inside;
}
