// Lookups over a run's graph snapshot, built once per actor instance.
import type { NodeTemplate } from "../model";
import { type ParsedTemplate, parseTemplate } from "../template/placeholders";
import { unitedSubtree } from "../template/united-subtree";
import { executionLeaseMs, hasTolerance } from "./control";
import { type NodeInfo, nodeKey, type RunTemplateSnapshot } from "./snapshot";

export class GraphIndex {
  readonly byId = new Map<string, NodeTemplate>();
  readonly root: NodeTemplate;
  /** target identifier → the unite nodes that wait on it */
  readonly unitesByTarget = new Map<string, NodeTemplate[]>();
  /** unite identifier → identifiers inside its united subtree (their outputs render as JSON arrays) */
  readonly subtreeOf = new Map<string, Set<string>>();
  /** identifier → its `max_concurrency`, for the nodes that have one (run control). */
  readonly concurrencyLimits = new Map<string, number>();
  /**
   * Targets whose unites include one with a tolerated failure count or percentage: their subtrees'
   * failures reach outer barriers only through those unites (see BarrierBook.failureKeys).
   */
  readonly absorbingTargets = new Set<string>();
  /** Nodes whose fan-outs stay in the run actor: a concurrency-limited node runs downstream of them. */
  private readonly unshardable = new Set<string>();
  private readonly parsed = new Map<string, ParsedTemplate>();
  /** Each node's registered info, looked up once (every dispatched state asks for its node's). */
  private readonly infos = new Map<NodeTemplate, NodeInfo | undefined>();

  constructor(readonly snapshot: RunTemplateSnapshot) {
    const indegree = new Map<string, number>();
    for (const node of snapshot.nodes) {
      this.byId.set(node.identifier, node);
      indegree.set(node.identifier, indegree.get(node.identifier) ?? 0);
      for (const next of node.next_nodes ?? []) indegree.set(next, (indegree.get(next) ?? 0) + 1);
      if (node.unites) {
        indegree.set(node.identifier, (indegree.get(node.identifier) ?? 0) + 1);
        const list = this.unitesByTarget.get(node.unites.identifier) ?? [];
        list.push(node);
        this.unitesByTarget.set(node.unites.identifier, list);
      }
    }
    const root = snapshot.nodes.find((n) => indegree.get(n.identifier) === 0);
    // The namespace actor only snapshots VALID graphs, which have exactly one root.
    if (!root) throw new Error("graph snapshot has no root node");
    this.root = root;
    for (const node of snapshot.nodes) {
      if (node.unites) this.subtreeOf.set(node.identifier, unitedSubtree(snapshot.nodes, node));
      if (node.max_concurrency !== undefined)
        this.concurrencyLimits.set(node.identifier, node.max_concurrency);
      if (node.unites && hasTolerance(node.unites)) this.absorbingTargets.add(node.unites.identifier);
    }
    if (this.concurrencyLimits.size > 0) {
      for (const node of snapshot.nodes) {
        if ([...this.downstreamOf(node.identifier)].some((id) => this.concurrencyLimits.has(id)))
          this.unshardable.add(node.identifier);
      }
    }
  }

  /**
   * Whether the branches of an execution of `identifier` may go to branch shards. A per-run concurrency
   * limit is counted by one actor, so a fan-out with a concurrency-limited node anywhere downstream keeps
   * all its branches in the run actor (design §6; docs/control-features.md).
   */
  shardable(identifier: string): boolean {
    return !this.unshardable.has(identifier);
  }

  /**
   * How long a runtime may run a state of `identifier` (run control): its node's `timeout_seconds` from
   * the run's snapshot when set, else `defaultMs` (the transport's lease).
   */
  executionLeaseMs(identifier: string, defaultMs: number): number {
    return executionLeaseMs(this.node(identifier), defaultMs);
  }

  /**
   * The first of `target`'s unites that carries a tolerance: the one whose tolerated failures the run's
   * status discounts (once per execution, however many tolerant unites the target has).
   */
  countingUnite(target: string): string | undefined {
    return this.unitesByTarget.get(target)?.find((u) => hasTolerance(u.unites))?.identifier;
  }

  /**
   * Every node a state of `identifier` can lead to inside a branch of its fan-out: next nodes, and unites
   * of what it leads to.
   */
  private downstreamOf(identifier: string): Set<string> {
    const seen = new Set<string>();
    const stack = [...(this.byId.get(identifier)?.next_nodes ?? [])];
    while (stack.length > 0) {
      const id = stack.pop() as string;
      // The execution's own unites (listed in next nodes of its subtree) fire with its head, in the run
      // actor: neither they nor what follows them run in a shard.
      if (seen.has(id) || this.byId.get(id)?.unites?.identifier === identifier) continue;
      seen.add(id);
      stack.push(...(this.byId.get(id)?.next_nodes ?? []));
      for (const unite of this.unitesByTarget.get(id) ?? []) stack.push(unite.identifier);
    }
    return seen;
  }

  node(identifier: string): NodeTemplate {
    const node = this.byId.get(identifier);
    if (!node) throw new Error(`Node template ${identifier} not found in the run's graph`);
    return node;
  }

  info(node: NodeTemplate): NodeInfo | undefined {
    if (this.infos.has(node)) return this.infos.get(node);
    const info = this.snapshot.node_info[nodeKey(node.namespace, node.node_name)];
    this.infos.set(node, info);
    return info;
  }

  /** The input fields a state of `node` gets: its registered schema's properties (Exosphere's rule). */
  inputFields(node: NodeTemplate): string[] {
    return this.info(node)?.inputFields ?? Object.keys(node.inputs);
  }

  /** The unite target of a unite node, so that its own states never wait on their own barrier. */
  uniteTargetOf(identifier: string): string | undefined {
    return this.byId.get(identifier)?.unites?.identifier;
  }

  /** Whether any input of `node` reads an output of `identifier` (directly, `${{ identifier.outputs.f }}`). */
  readsOutputsOf(node: NodeTemplate, identifier: string): boolean {
    return this.inputFields(node).some((field) =>
      (this.template(node, field)?.parts ?? []).some(
        ({ ref }) => ref.kind === "output" && ref.identifier === identifier,
      ),
    );
  }

  /** Parsed `${{ }}` template of one input, cached: a wide fan-out renders the same string n times. */
  template(node: NodeTemplate, field: string): ParsedTemplate | undefined {
    const key = `${node.identifier}\u0000${field}`;
    let parsed = this.parsed.get(key);
    if (!parsed) {
      const value = node.inputs[field];
      if (typeof value !== "string") return undefined;
      parsed = parseTemplate(value);
      this.parsed.set(key, parsed);
    }
    return parsed;
  }
}
