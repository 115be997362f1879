import type { GraphNodeModel } from "exoflare/client";
import { EXAMPLES_NAMESPACE } from "./nodes";

// The seed's two graph templates, as bodies for `PUT /v0/namespace/examples/graph/{name}`. The splitter's
// inputs are defaults: a trigger's `inputs` ({"data": "[1,2,3]", "chunk_size": "2"}) replaces them.

type UpsertGraphRequest = { secrets: Record<string, string>; nodes: GraphNodeModel[] };

const dataSplitter = {
  node_name: "DataSplitterNode",
  namespace: EXAMPLES_NAMESPACE,
  identifier: "data_splitter",
  inputs: { data: "[]", chunk_size: "1" },
  next_nodes: ["processor"],
  unites: null,
};

/** Sums one chunk: one branch per chunk of the splitter. */
const processor = (next: string[] | null) => ({
  node_name: "DataProcessorNode",
  namespace: EXAMPLES_NAMESPACE,
  identifier: "processor",
  inputs: { data: "${{ data_splitter.outputs.chunk }}" },
  next_nodes: next,
  unites: null,
});

/** data_splitter fans out one branch per chunk; processor sums each chunk. */
export const splitProcessGraph = {
  secrets: {},
  nodes: [dataSplitter, processor(null)],
} satisfies UpsertGraphRequest;

/**
 * As {@link splitProcessGraph}, then merger runs once after every chunk is processed (it unites
 * data_splitter) and reads all the processor results as one JSON array of strings, in fan-out order.
 */
export const splitProcessMergeGraph = {
  secrets: {},
  nodes: [
    dataSplitter,
    processor(["merger"]),
    {
      node_name: "ResultMergerNode",
      namespace: EXAMPLES_NAMESPACE,
      identifier: "merger",
      inputs: { processed_data: "${{ processor.outputs.result }}" },
      next_nodes: null,
      unites: { identifier: "data_splitter", strategy: "ALL_SUCCESS" },
    },
  ],
} satisfies UpsertGraphRequest;
