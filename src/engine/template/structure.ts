// Tier 2 of graph validation (spec §4.1.2): structural rules 3–9 with Exosphere's messages. The name and
// namespace rules (1) belong to the API; secrets (2) are always well-formed because we encrypt them.
import { ValidationError } from "../errors";
import type { NodeTemplate, StoreConfig } from "../model";
import { buildParentsAndPaths, DependencyGraphError } from "./parents-paths";
import { parseTemplate, templateRefs } from "./placeholders";
import { pyRepr, pyStr } from "./py-repr";
import { unitedSubtree } from "./united-subtree";

/**
 * A graph template refused at upsert (rule 1's empty names, or a structural rule). The message is
 * Exosphere's inner text, violations joined by "\n"; the client's detail wraps it as Exosphere does.
 */
export class GraphStructureError extends ValidationError {
  override readonly name = "GraphStructureError";

  constructor(readonly violations: readonly string[]) {
    const message = violations.join("\n");
    super(`Error validating graph template: ${message}`, { message });
  }
}

export interface GraphStructure {
  root: NodeTemplate;
  /** identifier → the template-level parents of §4.1.3 (what its placeholders may reference) */
  parents: Map<string, Set<string>>;
  /** identifier → the DFS path set of §4.1.3 */
  paths: Map<string, Set<string>>;
}

function check(violations: string[]): void {
  if (violations.length > 0) throw new GraphStructureError(violations);
}

/**
 * Runs rules 3–9 in Exosphere's order; the first failing rule throws with all of its own violations.
 * Our one difference (design §4, FIX): a unite node may also reference nodes of its united subtree.
 */
export function validateGraphStructure(
  nodes: readonly NodeTemplate[],
  storeConfig: StoreConfig,
): GraphStructure {
  const identifiers = new Set<string>();
  const duplicates: string[] = [];
  for (const node of nodes) {
    if (identifiers.has(node.identifier)) duplicates.push(`Node identifier ${node.identifier} is not unique`);
    identifiers.add(node.identifier);
  }
  check(duplicates);

  check(
    nodes.flatMap((node) =>
      (node.next_nodes ?? [])
        .filter((next) => !identifiers.has(next))
        .map((next) => `Node identifier ${next} does not exist in the graph`),
    ),
  );

  const uniteErrors: string[] = [];
  for (const node of nodes) {
    if (node.unites === null) continue;
    const target = node.unites.identifier;
    if (!identifiers.has(target)) {
      uniteErrors.push(`Node ${node.identifier} has an unites target ${target} that does not exist`);
    }
    if (target === node.identifier) {
      uniteErrors.push(
        `Node ${node.identifier} has an unites target ${target} that is the same as the node itself`,
      );
    }
  }
  check(uniteErrors);

  const root = findRoot(nodes);
  let graph: ReturnType<typeof buildParentsAndPaths>;
  try {
    graph = buildParentsAndPaths(nodes, root.identifier);
  } catch (e) {
    if (e instanceof DependencyGraphError) {
      throw new GraphStructureError([`Error building dependency graph: ${e.message}`]);
    }
    throw e;
  }
  const parentsOf = (id: string) => graph.parents.get(id) ?? new Set<string>();

  check(
    nodes
      .filter((n) => n.identifier !== root.identifier && !parentsOf(n.identifier).has(root.identifier))
      .map((n) => `Node ${n.identifier} is not connected to the root node`),
  );

  check(
    nodes
      .filter((n) => graph.paths.get(n.identifier)?.has(n.identifier))
      .map((n) => `Node ${n.identifier} is not acyclic`),
  );

  check(nodes.flatMap((node) => inputDependencyErrors(node, nodes, parentsOf(node.identifier), storeConfig)));

  return { root, parents: graph.parents, paths: graph.paths };
}

/** Rule 6: the unique node with in-degree 0, where a unite node counts its target as one more edge. */
export function findRoot(nodes: readonly NodeTemplate[]): NodeTemplate {
  const inDegree = new Map<string, number>(nodes.map((n) => [n.identifier, 0]));
  for (const node of nodes) {
    for (const next of node.next_nodes ?? []) inDegree.set(next, (inDegree.get(next) ?? 0) + 1);
    if (node.unites !== null) inDegree.set(node.identifier, (inDegree.get(node.identifier) ?? 0) + 1);
  }
  const roots = nodes.filter((n) => inDegree.get(n.identifier) === 0);
  const [root] = roots;
  if (roots.length !== 1 || !root) {
    // Exosphere's sentence first (clients may match on it), then, for zero roots, why there is none.
    const found = `There should be exactly one root node in the graph but found ${roots.length} nodes with zero in-degree: [${roots.map(nodeRepr).join(", ")}]`;
    const why = roots.length === 0 && nodes.length > 0 ? `. ${noRootReason(nodes)}` : "";
    throw new GraphStructureError([found + why]);
  }
  return root;
}

/**
 * Why a non-empty graph has no node with in-degree 0: its next_nodes form a cycle (named, in order),
 * and/or the nodes that no next_nodes lists all unite another node (which counts as an incoming edge).
 */
function noRootReason(nodes: readonly NodeTemplate[]): string {
  const reasons: string[] = [];
  const cycle = findCycle(nodes);
  if (cycle !== null) {
    reasons.push(`The graph has a cycle: ${[...cycle, cycle[0]].join(" -> ")}`);
  }
  const listed = new Set(nodes.flatMap((n) => n.next_nodes ?? []));
  const uniting = nodes.filter((n) => !listed.has(n.identifier) && n.unites !== null);
  if (uniting.length > 0) {
    const which = uniting.map((n) => `${n.identifier} unites ${n.unites?.identifier}`).join(", ");
    reasons.push(
      `The nodes that no next_nodes lists all unite another node, so none can be the root: ${which}`,
    );
  }
  return reasons.map((r) => `${r}.`).join(" ");
}

/** The first cycle of next_nodes edges found by a DFS in node order, as its node identifiers; or null. */
function findCycle(nodes: readonly NodeTemplate[]): string[] | null {
  const next = new Map(nodes.map((n) => [n.identifier, n.next_nodes ?? []]));
  const done = new Set<string>();
  for (const start of nodes) {
    if (done.has(start.identifier)) continue;
    // An explicit stack (a long chain must not overflow the call stack): the current DFS path.
    const stack = [{ id: start.identifier, child: 0 }];
    const onPath = new Set([start.identifier]);
    for (let frame = stack.at(-1); frame !== undefined; frame = stack.at(-1)) {
      const child = next.get(frame.id)?.[frame.child];
      if (child === undefined) {
        stack.pop();
        onPath.delete(frame.id);
        done.add(frame.id);
        continue;
      }
      frame.child += 1;
      if (onPath.has(child)) {
        const path = stack.map((f) => f.id);
        return path.slice(path.indexOf(child));
      }
      if (done.has(child) || !next.has(child)) continue;
      stack.push({ id: child, child: 0 });
      onPath.add(child);
    }
  }
  return null;
}

/** Rule 9 for one node: inputs are strings, placeholders parse and point at parents or declared store keys. */
function inputDependencyErrors(
  node: NodeTemplate,
  nodes: readonly NodeTemplate[],
  parents: ReadonlySet<string>,
  storeConfig: StoreConfig,
): string[] {
  const errors: string[] = [];
  let readable: ReadonlySet<string> = parents;
  if (node.unites !== null) readable = new Set([...parents, ...unitedSubtree(nodes, node)]);
  const storeKeys = new Set([...storeConfig.required_keys, ...Object.keys(storeConfig.default_values)]);

  for (const value of Object.values(node.inputs)) {
    if (typeof value !== "string") {
      errors.push(`Input ${pyStr(value)} is not a string`);
      continue;
    }
    let refs: ReturnType<typeof templateRefs>;
    try {
      refs = templateRefs(parseTemplate(value));
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      errors.push(`Error creating dependent string for input ${value} check syntax string: ${reason}`);
      continue;
    }
    const identifiers = new Set<string>();
    const keys = new Set<string>();
    for (const ref of refs) {
      if (ref.kind === "store") keys.add(ref.key);
      else identifiers.add(ref.identifier);
    }
    for (const id of identifiers) {
      if (!readable.has(id)) {
        errors.push(`Input ${value} depends on ${id} but ${id} is not a parent of ${node.identifier}`);
      }
    }
    for (const key of keys) {
      if (!storeKeys.has(key)) {
        errors.push(`Input ${value} depends on ${key} but ${key} is not a required key or a default value`);
      }
    }
  }
  return errors;
}

/** Pydantic's repr of a NodeTemplate, as Exosphere prints it in the root-count message. */
function nodeRepr(node: NodeTemplate): string {
  const unites =
    node.unites === null
      ? "None"
      : `Unites(identifier=${pyRepr(node.unites.identifier)}, strategy=<UnitesStrategyEnum.${node.unites.strategy}: ${pyRepr(node.unites.strategy)}>)`;
  return (
    `NodeTemplate(node_name=${pyRepr(node.node_name)}, namespace=${pyRepr(node.namespace)}, ` +
    `identifier=${pyRepr(node.identifier)}, inputs=${pyRepr(node.inputs)}, ` +
    `next_nodes=${pyRepr(node.next_nodes)}, unites=${unites})`
  );
}
