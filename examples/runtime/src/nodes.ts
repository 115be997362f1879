import { z } from "zod";
import { BaseNode } from "exoflare";
import { addDecimals, type Decimal, formatDecimal, numberTokens, parseDecimal, sumDecimals } from "./decimal";
import {
  forEachJsonString,
  kindOf,
  parseJsonArray,
  parsePositiveInteger,
  topLevelElements,
} from "./json-array";

// The seed's example nodes (namespace "examples"): split a JSON array into chunks, sum each chunk, merge the
// sums. Sums are exact decimals, not doubles: integers of any size up to 10^400 (not only up to 2^53) and
// decimals such as 0.1 + 0.2 = 0.3 come out exact; values beyond about 1e±400 are refused as bad input.
// Each class names itself so a minifying bundler cannot change the names graphs refer to.

export const EXAMPLES_NAMESPACE = "examples";

const SplitterInputs = z.object({ data: z.string(), chunk_size: z.string() });
const SplitterOutputs = z.object({ chunk: z.string() });

/**
 * Splits `data` (a JSON array) into consecutive chunks of `chunk_size` elements: one output, one branch
 * each. It yields them, so a push consumer reports a million chunks a page at a time and never holds them
 * all (the checks run before the first chunk).
 */
export class DataSplitterNode extends BaseNode<typeof SplitterInputs, typeof SplitterOutputs> {
  static override readonly nodeName = "DataSplitterNode";
  readonly inputs = SplitterInputs;
  readonly outputs = SplitterOutputs;

  *execute({ data, chunk_size }: z.infer<typeof SplitterInputs>): Generator<z.infer<typeof SplitterOutputs>> {
    const size = parsePositiveInteger("chunk_size", chunk_size);
    parseJsonArray("data", data);
    let chunk: string[] = [];
    for (const element of topLevelElements(data)) {
      chunk.push(element);
      if (chunk.length === size) {
        yield { chunk: `[${chunk.join(",")}]` };
        chunk = [];
      }
    }
    if (chunk.length > 0) yield { chunk: `[${chunk.join(",")}]` };
  }
}

const ProcessorInputs = z.object({ data: z.string() });
const ProcessorOutputs = z.object({ result: z.string() });

/** Sums `data` (a JSON array of numbers) into `result`, a decimal string. */
export class DataProcessorNode extends BaseNode<typeof ProcessorInputs, typeof ProcessorOutputs> {
  static override readonly nodeName = "DataProcessorNode";
  readonly inputs = ProcessorInputs;
  readonly outputs = ProcessorOutputs;

  execute({ data }: z.infer<typeof ProcessorInputs>): z.infer<typeof ProcessorOutputs> {
    const parsed = parseJsonArray("data", data);
    const notNumber = parsed.findIndex((v) => typeof v !== "number");
    if (notNumber !== -1) {
      throw new Error(
        `Input 'data' must be an array of numbers; element ${notNumber} is ${kindOf(parsed[notNumber])}`,
      );
    }
    // Exact values come from the source text; JSON.parse above has proved it is a flat array of numbers.
    const values = numberTokens(data).map((token) => decimalOrThrow("Input 'data'", token));
    return { result: formatDecimal(sumDecimals(values)) };
  }
}

const MergerInputs = z.object({ processed_data: z.string() });
const MergerOutputs = z.object({ merged: z.string() });

/**
 * Adds up `processed_data` (a JSON array of decimal strings, one per processed chunk) into `merged`,
 * reading the text one element at a time: a million results take a few MB, not a million values at once
 * (over 100 MB of a Worker isolate's 128).
 */
export class ResultMergerNode extends BaseNode<typeof MergerInputs, typeof MergerOutputs> {
  static override readonly nodeName = "ResultMergerNode";
  readonly inputs = MergerInputs;
  readonly outputs = MergerOutputs;

  execute({ processed_data }: z.infer<typeof MergerInputs>): z.infer<typeof MergerOutputs> {
    // A running sum over the text: a million results are never held as a million values at once.
    let sum: Decimal | undefined;
    const summed = forEachJsonString(processed_data, (value) => {
      const decimal = parseDecimal(value);
      if (typeof decimal === "string") return false;
      sum = sum === undefined ? decimal : addDecimals(sum, decimal);
      return true;
    });
    if (summed) return { merged: formatDecimal(sum ?? { digits: 0n, exponent: 0 }) };
    // Not an array of decimal strings: the full parse says what is wrong and where.
    const parsed = parseJsonArray("processed_data", processed_data);
    const values = parsed.map((value, index) => {
      if (typeof value !== "string") {
        throw new Error(
          `Input 'processed_data' must be an array of decimal strings; element ${index} is ${kindOf(value)}`,
        );
      }
      return decimalOrThrow(`Input 'processed_data' element ${index}`, value);
    });
    return { merged: formatDecimal(sumDecimals(values)) };
  }
}

function decimalOrThrow(label: string, text: string): Decimal {
  const parsed = parseDecimal(text);
  if (typeof parsed === "string") throw new Error(`${label}: ${parsed}`);
  return parsed;
}

/** The three example nodes, as a runtime for the "examples" namespace serves them. */
export const exampleNodes = (): [DataSplitterNode, DataProcessorNode, ResultMergerNode] => [
  new DataSplitterNode(),
  new DataProcessorNode(),
  new ResultMergerNode(),
];
