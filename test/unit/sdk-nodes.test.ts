import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import {
  type AnyNode,
  assertValidNodes,
  BaseNode,
  type NodeContext,
  NodeDefinitionError,
  nodeDefinitionProblems,
  nodeNameOf,
  toRegisteredNode,
} from "../../src/sdk";

const Inputs = z.object({ message: z.string(), chunk_size: z.string().min(1) });
const Outputs = z.object({ echoed: z.string() });
const Secrets = z.object({ API_TOKEN: z.string() });

class EchoNode extends BaseNode<typeof Inputs, typeof Outputs, typeof Secrets> {
  readonly inputs = Inputs;
  readonly outputs = Outputs;
  override readonly secrets = Secrets;

  async execute(inputs: z.infer<typeof Inputs>, ctx: NodeContext<z.infer<typeof Secrets>>) {
    expectTypeOf(inputs.message).toEqualTypeOf<string>();
    expectTypeOf(ctx.secrets.API_TOKEN).toEqualTypeOf<string>();
    return { echoed: inputs.message };
  }
}

class RenamedNode extends BaseNode<typeof Inputs, typeof Outputs> {
  static override readonly nodeName = "WireName";
  readonly inputs = Inputs;
  readonly outputs = Outputs;
  execute() {}
}

class ChildOfRenamedNode extends RenamedNode {}

class NoInputsNode extends BaseNode {
  readonly inputs = z.object({});
  readonly outputs = z.object({});
  execute() {}
}

/** Builds a node whose schemas bypass the type-level string constraint, as plain JavaScript could. */
function untypedNode(
  name: string,
  schemas: { inputs?: unknown; outputs?: unknown; secrets?: unknown },
): AnyNode {
  const Node = class extends BaseNode {
    static override readonly nodeName = name;
    readonly inputs = (schemas.inputs ?? z.object({})) as never;
    readonly outputs = (schemas.outputs ?? z.object({})) as never;
    override readonly secrets = schemas.secrets as never;
    execute() {}
  };
  return new Node();
}

describe("node names", () => {
  it("defaults to the class name, as Python uses __name__", () => {
    expect(nodeNameOf(new EchoNode())).toBe("EchoNode");
  });

  it("uses a static nodeName when the class declares one", () => {
    expect(nodeNameOf(new RenamedNode())).toBe("WireName");
  });

  it("does not inherit a parent's nodeName", () => {
    expect(nodeNameOf(new ChildOfRenamedNode())).toBe("ChildOfRenamedNode");
  });

  it("refuses two nodes with the same name in one runtime", () => {
    expect(() => assertValidNodes([new EchoNode(), new EchoNode()])).toThrow(
      "Node name 'EchoNode' is used by more than one node",
    );
    expect(() =>
      assertValidNodes([new EchoNode(), new RenamedNode(), new ChildOfRenamedNode()]),
    ).not.toThrow();
  });

  it("refuses a node without a name", () => {
    const anonymous = untypedNode("", {});
    expect(nodeDefinitionProblems(anonymous)).toEqual([
      "An anonymous node class has no name; give the class a name or a static nodeName",
    ]);
  });
});

describe("schema validation", () => {
  it("accepts string fields, including ones with checks", () => {
    expect(nodeDefinitionProblems(new EchoNode())).toEqual([]);
    expect(nodeDefinitionProblems(new NoInputsNode())).toEqual([]);
  });

  it.each([
    ["a number", z.number()],
    ["an optional string", z.string().optional()],
    ["a string with a default", z.string().default("x")],
    ["a transformed string", z.string().transform((s) => s.length)],
    ["a uuid (a format Exosphere does not treat as str)", z.uuid()],
    ["an email", z.email()],
    ["an enum", z.enum(["a", "b"])],
    ["a literal", z.literal("a")],
    ["a nullable string", z.string().nullable()],
  ])("refuses %s, naming the node, schema and field", (_label, field) => {
    const node = untypedNode("Bad", { inputs: z.object({ ok: z.string(), bad: field }) });
    const problems = nodeDefinitionProblems(node);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^Node 'Bad': inputs field 'bad' must be a required z\.string\(\)/);
  });

  it("checks outputs and secrets too, and requires zod objects", () => {
    const node = untypedNode("Bad", {
      inputs: { message: "not a schema" },
      outputs: z.object({ n: z.number() }),
      secrets: z.object({ KEY: z.boolean() }),
    });
    expect(nodeDefinitionProblems(node)).toEqual([
      "Node 'Bad': inputs must be a z.object({...}) schema",
      expect.stringMatching(/^Node 'Bad': outputs field 'n' must be/),
      expect.stringMatching(/^Node 'Bad': secrets field 'KEY' must be/),
    ]);
  });

  it("fails registration with every problem listed", () => {
    const node = untypedNode("Bad", { inputs: z.object({ a: z.number(), b: z.number() }) });
    expect(() => toRegisteredNode(node)).toThrow(NodeDefinitionError);
    try {
      toRegisteredNode(node);
    } catch (e) {
      expect((e as NodeDefinitionError).problems).toHaveLength(2);
      expect((e as Error).message).toMatch(
        /^Following errors while validating nodes: Node 'Bad': inputs field 'a'/,
      );
    }
  });
});

describe("toRegisteredNode", () => {
  it("produces the registration body with Pydantic-shaped schemas", () => {
    expect(toRegisteredNode(new EchoNode())).toEqual({
      name: "EchoNode",
      inputs_schema: {
        title: "Inputs",
        type: "object",
        properties: {
          message: { title: "Message", type: "string" },
          chunk_size: { title: "Chunk Size", type: "string", minLength: 1 },
        },
        required: ["message", "chunk_size"],
      },
      outputs_schema: {
        title: "Outputs",
        type: "object",
        properties: { echoed: { title: "Echoed", type: "string" } },
        required: ["echoed"],
      },
      secrets: ["API_TOKEN"],
    });
  });

  it("omits required for an empty model and lists no secrets when none are declared", () => {
    expect(toRegisteredNode(new NoInputsNode())).toEqual({
      name: "NoInputsNode",
      inputs_schema: { title: "Inputs", type: "object", properties: {} },
      outputs_schema: { title: "Outputs", type: "object", properties: {} },
      secrets: [],
    });
  });

  it("registers under the overridden name", () => {
    expect(toRegisteredNode(new RenamedNode()).name).toBe("WireName");
  });

  it("keeps a title the schema author set", () => {
    const node = untypedNode("Titled", { inputs: z.object({ q: z.string().meta({ title: "Query" }) }) });
    expect(toRegisteredNode(node).inputs_schema.properties).toEqual({
      q: { title: "Query", type: "string" },
    });
  });
});

describe("types", () => {
  it("rejects non-string fields at compile time", () => {
    // @ts-expect-error every input field must be a z.string()
    type NumberInputs = BaseNode<z.ZodObject<{ n: z.ZodNumber }>>;
    type OptionalString = z.ZodObject<{ s: z.ZodOptional<z.ZodString> }>;
    // @ts-expect-error every secret field must be a z.string()
    type OptionalSecret = BaseNode<typeof Inputs, typeof Outputs, OptionalString>;
    expectTypeOf<NumberInputs | OptionalSecret>().not.toBeNever();
  });
});
