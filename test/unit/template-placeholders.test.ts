// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${{ }}" is the placeholder syntax under test, not a mistaken template literal.
import { describe, expect, it } from "vitest";
import {
  type PlaceholderRef,
  PlaceholderSyntaxError,
  parseTemplate,
  renderTemplate,
  templateRefs,
} from "../../src/engine/template/placeholders";

const render = (source: string, values: Record<string, string>) =>
  renderTemplate(parseTemplate(source), (ref) => {
    const key = ref.kind === "store" ? `store.${ref.key}` : `${ref.identifier}.${ref.field}`;
    const value = values[key];
    if (value === undefined) throw new Error(`no value for ${key}`);
    return value;
  });

describe("parseTemplate", () => {
  it("returns a string without placeholders as its head", () => {
    expect(parseTemplate("plain {{a.outputs.b}} text")).toEqual({
      head: "plain {{a.outputs.b}} text",
      parts: [],
    });
  });

  it("splits head, references and ordered tails", () => {
    expect(parseTemplate("a ${{ n1.outputs.x }} b ${{store.k}} c")).toEqual({
      head: "a ",
      parts: [
        { ref: { kind: "output", identifier: "n1", field: "x" }, tail: " b " },
        { ref: { kind: "store", key: "k" }, tail: " c" },
      ],
    });
  });

  it("allows whitespace around the dots", () => {
    expect(parseTemplate("${{  n1 .  outputs . x  }}").parts[0]?.ref).toEqual({
      kind: "output",
      identifier: "n1",
      field: "x",
    });
  });

  it("reads store.outputs.x as the store key x, as Exosphere does", () => {
    expect(parseTemplate("${{ store.outputs.x }}").parts[0]?.ref).toEqual({ kind: "store", key: "x" });
  });

  it("rejects an unclosed placeholder with Exosphere's message", () => {
    const source = "pre ${{node1.outputs.output1";
    expect(() => parseTemplate(source)).toThrow(PlaceholderSyntaxError);
    expect(() => parseTemplate(source)).toThrow(
      "Invalid syntax string placeholder node1.outputs.output1 for: pre ${{node1.outputs.output1 '${{' not closed",
    );
  });

  it.each([
    ["${{ a.b }}", " a.b "],
    ["${{ a.inputs.b }}", " a.inputs.b "],
    ["${{ a.outputs.b.c }}", " a.outputs.b.c "],
    ["${{}}", ""],
    ["${{ store }}", " store "],
  ])("rejects the malformed placeholder %s", (source, content) => {
    expect(() => parseTemplate(source)).toThrow(
      `Invalid syntax string placeholder ${content} for: ${source}`,
    );
    expect(() => parseTemplate(source)).not.toThrow("not closed");
  });

  it("lists distinct references in order of first appearance", () => {
    const refs: PlaceholderRef[] = templateRefs(
      parseTemplate("${{b.outputs.x}}${{store.k}}${{b.outputs.x}}${{a.outputs.y}}"),
    );
    expect(refs).toEqual([
      { kind: "output", identifier: "b", field: "x" },
      { kind: "store", key: "k" },
      { kind: "output", identifier: "a", field: "y" },
    ]);
  });
});

describe("renderTemplate", () => {
  it("concatenates head, values and tails in order", () => {
    expect(render("x=${{a.outputs.x}}, k=${{ store.k }}!", { "a.x": "1", "store.k": "v" })).toBe("x=1, k=v!");
  });

  it("gives every occurrence of a reference the same value, resolving it once", () => {
    let calls = 0;
    const out = renderTemplate(parseTemplate("${{a.outputs.x}}-${{a.outputs.x}}"), () => {
      calls += 1;
      return `v${calls}`;
    });
    expect(out).toBe("v1-v1");
    expect(calls).toBe(1);
  });

  it("leaves text without placeholders untouched", () => {
    expect(render("no placeholders", {})).toBe("no placeholders");
  });
});
