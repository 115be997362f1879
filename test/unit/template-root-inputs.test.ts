// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${{ }}" is the placeholder syntax under test.
import { describe, expect, it } from "vitest";
import { DomainError, ValidationError } from "../../src/engine/errors";
import type { NodeTemplate, StoreConfig } from "../../src/engine/model";
import { triggerBodySchema } from "../../src/engine/template/request-schema";
import { resolveRootInputs } from "../../src/engine/template/root-inputs";

const root = (inputs: Record<string, unknown>): NodeTemplate => ({
  node_name: "root_node",
  namespace: "ns",
  identifier: "root_id",
  inputs,
  next_nodes: null,
  unites: null,
});

const config = (over: Partial<StoreConfig> = {}): StoreConfig => ({
  required_keys: [],
  default_values: {},
  ...over,
});

const body = (raw: unknown) => triggerBodySchema.parse(raw);

const rejection = (fn: () => unknown): DomainError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error("expected a 400");
};

describe("resolveRootInputs", () => {
  it("takes body inputs over template values, ignoring keys the template lacks", () => {
    const result = resolveRootInputs(
      root({ a: "template a", b: "template b" }),
      body({ inputs: { a: "body a", extra: "x" } }),
      config(),
    );
    expect(result.inputs).toEqual({ a: "body a", b: "template b" });
  });

  it("names every ignored input in a warning, and warns of nothing when every input is the root's", () => {
    const ignored = resolveRootInputs(
      root({ data: "[]", chunk_size: "1" }),
      body({ inputs: { datum: "[1,2]", chunk_size: "2", extra: "x" } }),
      config(),
    );
    expect(ignored.inputs).toEqual({ data: "[]", chunk_size: "2" });
    expect(ignored.warnings).toEqual([
      "Input datum is not an input of root node root_id and was ignored (its inputs are data, chunk_size)",
      "Input extra is not an input of root node root_id and was ignored (its inputs are data, chunk_size)",
    ]);
    expect(resolveRootInputs(root({}), body({ inputs: { x: "1" } }), config()).warnings).toEqual([
      "Input x is not an input of root node root_id and was ignored (it has no inputs)",
    ]);
    expect(
      resolveRootInputs(root({ data: "[]" }), body({ inputs: { data: "[1]" } }), config()).warnings,
    ).toEqual([]);
  });

  it("renders store placeholders from the body first, then from defaults", () => {
    const result = resolveRootInputs(
      root({ a: "${{ store.k }}/${{ store.d }}/${{store.outputs.k}}" }),
      body({ store: { k: "from body", d: "body wins" } }),
      config({ default_values: { d: "default", e: "unused" } }),
    );
    expect(result.inputs).toEqual({ a: "from body/body wins/from body" });
    const fallback = resolveRootInputs(
      root({ a: "${{ store.d }}" }),
      body({}),
      config({ default_values: { d: "default" } }),
    );
    expect(fallback.inputs).toEqual({ a: "default" });
  });

  it("renders placeholders that arrive in body inputs", () => {
    const result = resolveRootInputs(
      root({ a: "t" }),
      body({ inputs: { a: "x${{ store.k }}" }, store: { k: "1" } }),
      config(),
    );
    expect(result.inputs).toEqual({ a: "x1" });
  });

  it("keeps every store key of the body, declared or not", () => {
    const result = resolveRootInputs(
      root({}),
      body({ store: { k: "1", other: "2" } }),
      config({ required_keys: ["k"] }),
    );
    expect(result.store).toEqual({ k: "1", other: "2" });
  });

  it("rejects an output placeholder in the root's inputs", () => {
    const error = rejection(() =>
      resolveRootInputs(root({ a: "${{ node1.outputs.x }}" }), body({}), config()),
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.detail).toBe(
      "Invalid input: 400: Root node can have only store identifier as dependent but got node1",
    );
  });

  it("rejects a store key found neither in the body nor in defaults", () => {
    const error = rejection(() => resolveRootInputs(root({ a: "${{ store.cursor }}" }), body({}), config()));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.detail).toBe(
      "Invalid input: 400: Dependent cursor not found in store for root node root_id",
    );
  });

  it("rejects malformed placeholder syntax", () => {
    const error = rejection(() => resolveRootInputs(root({ a: "${{ store.k" }), body({}), config()));
    expect(error.detail).toBe(
      "Invalid input: Invalid syntax string placeholder  store.k for: ${{ store.k '${{' not closed",
    );
  });

  it("reports missing required keys as a Python set, after rendering", () => {
    const missing = rejection(() =>
      resolveRootInputs(
        root({}),
        body({ store: { k2: "x" } }),
        config({ required_keys: ["k1", "k2", "k3"] }),
      ),
    );
    expect(missing).toBeInstanceOf(ValidationError);
    expect(missing.detail).toBe("Missing store keys: {'k1', 'k3'}");
    const renderFirst = rejection(() =>
      resolveRootInputs(root({ a: "${{ store.nope }}" }), body({}), config({ required_keys: ["k1"] })),
    );
    expect(renderFirst.detail).toBe(
      "Invalid input: 400: Dependent nope not found in store for root node root_id",
    );
  });

  it("answers 400 for a non-string template input instead of crashing", () => {
    const error = rejection(() => resolveRootInputs(root({ n: 5 }), body({}), config()));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.detail).toBe("Invalid input: Input n of root node root_id is not a string");
    // A body value for that key replaces the bad template value.
    expect(resolveRootInputs(root({ n: 5 }), body({ inputs: { n: "5" } }), config()).inputs).toEqual({
      n: "5",
    });
  });
});
