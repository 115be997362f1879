import { z } from "zod";

/**
 * A zod object whose every field is a string: Exosphere passes every input, output and secret as a string,
 * and its graph verifier rejects any schema property that is not a plain `{"type": "string"}`.
 */
export type StringSchema = z.ZodObject<Record<string, z.ZodString>>;

/** The schema of a node that declares no secrets. */
export type NoSecrets = z.ZodObject<Record<never, z.ZodString>>;

/** What a node receives besides its inputs. */
export interface NodeContext<Secrets = Record<string, string>> {
  /** Only the secrets this node declares, never the rest of the graph's secrets. */
  secrets: Secrets;
  /** The state (one execution attempt) being run. */
  stateId: string;
  /** The run the state belongs to, when the transport knows it. */
  runId?: string;
}

/** One output (one branch), several outputs (a fan-out, one branch each) or nothing (zero branches). */
export type NodeResult<Output> =
  | Output
  | Output[]
  // A generator (sync or async) of outputs: a push consumer reports them a page at a time as they come,
  // so a fan-out of a million outputs never sits in its memory at once.
  | Iterable<Output>
  | AsyncIterable<Output>
  | undefined
  | null
  // biome-ignore lint/suspicious/noConfusingVoidType: void lets an `execute() {}` with no return statement implement the method; undefined alone would not.
  | void;

/**
 * The TypeScript counterpart of the Python SDK's `BaseNode`. Subclass it, declare the schemas as fields and
 * implement `execute`:
 *
 * ```ts
 * import { z } from "zod";
 * import { BaseNode, PruneSignal, type NodeContext } from "exoflare";
 *
 * const Inputs = z.object({ url: z.string() });
 * const Outputs = z.object({ status: z.string() });
 * const Secrets = z.object({ API_TOKEN: z.string() });
 *
 * export class FetchStatusNode extends BaseNode<typeof Inputs, typeof Outputs, typeof Secrets> {
 *   static override readonly nodeName = "FetchStatusNode"; // survives minification
 *   readonly inputs = Inputs;
 *   readonly outputs = Outputs;
 *   override readonly secrets = Secrets;
 *
 *   async execute({ url }: z.infer<typeof Inputs>, ctx: NodeContext<z.infer<typeof Secrets>>) {
 *     const res = await fetch(url, { headers: { authorization: `Bearer ${ctx.secrets.API_TOKEN}` } });
 *     if (res.status === 404) throw new PruneSignal({ url }); // end this branch quietly
 *     return { status: String(res.status) };
 *   }
 * }
 * ```
 *
 * Differences from the Python SDK, on purpose: inputs and secrets are arguments of `execute` instead of
 * fields set on `self`, so one instance can run many states concurrently (do not keep per-state data on
 * `this`); `execute` may return or throw synchronously as well as asynchronously.
 *
 * The wire name (what graphs reference as `node_name`) is the static `nodeName` if the class declares one,
 * else the class name, as Python uses `__name__`. Bundlers that minify or rename classes (esbuild with
 * `minify`, or two classes with the same name in different modules) change the class name, so a node
 * deployed from a bundle should declare `static readonly nodeName`. `nodeName` is not inherited: a subclass
 * of a named node gets its own class name unless it declares its own.
 *
 * Schemas are checked (every field a `z.string()`, no optional/default/format fields) when the node is
 * registered or executed, not in the constructor, because subclass fields are only set after `super()`.
 */
export abstract class BaseNode<
  Inputs extends StringSchema = StringSchema,
  Outputs extends StringSchema = StringSchema,
  Secrets extends StringSchema = NoSecrets,
> {
  /** Overrides the wire name, which otherwise is the class name. */
  static readonly nodeName?: string;

  abstract readonly inputs: Inputs;
  abstract readonly outputs: Outputs;
  /** Names of the graph secrets this node needs; omit when it needs none. */
  readonly secrets?: Secrets;

  abstract execute(
    inputs: z.infer<Inputs>,
    ctx: NodeContext<z.infer<Secrets>>,
  ): NodeResult<z.infer<Outputs>> | Promise<NodeResult<z.infer<Outputs>>>;
}

/** Any node, whatever its schemas. */
export type AnyNode = BaseNode<StringSchema, StringSchema, StringSchema>;

/** A node's wire name: its class's own static `nodeName`, else its class name. */
export function nodeNameOf(node: AnyNode): string {
  const ctor = node.constructor as { name: string; nodeName?: unknown };
  // Own property only: a static field is inherited through the constructor's prototype chain, which would
  // give a subclass its parent's name and register two classes under one name.
  if (Object.hasOwn(ctor, "nodeName") && ctor.nodeName !== undefined) {
    return typeof ctor.nodeName === "string" ? ctor.nodeName : "";
  }
  return ctor.name;
}

/** Thrown when node definitions cannot be registered or run; the message lists every problem found. */
export class NodeDefinitionError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Following errors while validating nodes: ${problems.join("; ")}`);
    this.name = "NodeDefinitionError";
  }
}

/**
 * Every problem with one node's definition, as sentences naming the node and field; empty when it is valid.
 * Also used by `executeNode`, so a node that slipped past registration still fails cleanly.
 */
export function nodeDefinitionProblems(node: AnyNode): string[] {
  const problems: string[] = [];
  const name = nodeNameOf(node);
  const label = name === "" ? "An anonymous node class" : `Node '${name}'`;
  if (name === "") {
    problems.push(`${label} has no name; give the class a name or a static nodeName`);
  } else if (name.trim() !== name) {
    problems.push(`${label} has leading or trailing whitespace in its name`);
  }
  if (!(node instanceof BaseNode)) problems.push(`${label} does not extend BaseNode`);
  if (typeof (node as { execute?: unknown }).execute !== "function") {
    problems.push(`${label} has no execute method`);
  }
  problems.push(...schemaProblems(label, "inputs", node.inputs, true));
  problems.push(...schemaProblems(label, "outputs", node.outputs, true));
  problems.push(...schemaProblems(label, "secrets", node.secrets, false));
  return problems;
}

/** Checks a list of nodes as a runtime would: each valid, names unique. Throws NodeDefinitionError. */
export function assertValidNodes(nodes: readonly AnyNode[]): void {
  const problems = nodes.flatMap(nodeDefinitionProblems);
  const seen = new Set<string>();
  for (const node of nodes) {
    const name = nodeNameOf(node);
    if (name === "") continue;
    if (seen.has(name)) problems.push(`Node name '${name}' is used by more than one node`);
    seen.add(name);
  }
  if (problems.length > 0) throw new NodeDefinitionError(problems);
}

const NOT_PLAIN_STRING =
  "must be a required z.string() (checks such as .min() or .regex() are fine; optional, default, " +
  "transformed and formatted strings such as z.email() are not), because Exosphere passes every value as a plain string";

function schemaProblems(label: string, kind: string, schema: unknown, required: boolean): string[] {
  if (schema === undefined && !required) return [];
  if (!(schema instanceof z.ZodObject)) return [`${label}: ${kind} must be a z.object({...}) schema`];
  const problems: string[] = [];
  for (const [field, fieldSchema] of Object.entries(schema.shape as Record<string, unknown>)) {
    if (!isPlainString(fieldSchema)) problems.push(`${label}: ${kind} field '${field}' ${NOT_PLAIN_STRING}`);
  }
  return problems;
}

/**
 * A zod string whose JSON Schema carries no `format`: Exosphere's verifier reads `format: uuid`, `uri`,
 * `date-time`… as non-string types, so such fields would make every graph using the node INVALID.
 */
function isPlainString(schema: unknown): boolean {
  if (!(schema instanceof z.ZodString)) return false;
  try {
    const json = z.toJSONSchema(schema) as Record<string, unknown>;
    return json.type === "string" && json.format === undefined;
  } catch {
    return false;
  }
}
