// Watching a run of the seed's split → process → merge graph from a script: its row in the runs list
// (cheap: one small page per poll, not the run's states), a progress line, and a clear stop when the
// run makes no progress for a long time, naming the node it seems to wait on.
import { ScriptError } from "./cli.mjs";
import { describeWaiting, waitsOnUnserved } from "./waiting.mjs";

/** `"[1,2,…,n]"` built a slice at a time, never as an array of n numbers. */
export function jsonRange(n) {
  const slice = 100_000;
  const parts = [];
  for (let lo = 1; lo <= n; lo += slice) {
    const hi = Math.min(n, lo + slice - 1);
    parts.push(Array.from({ length: hi - lo + 1 }, (_, i) => lo + i).join(","));
  }
  return `[${parts.join(",")}]`;
}

/** 1 + 2 + … + n, exactly, as a decimal string. */
export const rangeSum = (n) => String((BigInt(n) * BigInt(n + 1)) / 2n);

/** The run's row in the runs list: the first small page, then (rarely) the rest, page by page. */
export async function findRunRow(sm, runId) {
  const first = await sm.runs(1, 10);
  const row = first.runs.find((r) => r.run_id === runId);
  if (row || first.total <= 10) return row;
  for (let page = 1; (page - 1) * 100 < first.total; page++) {
    const found = (await sm.runs(page, 100)).runs.find((r) => r.run_id === runId);
    if (found) return found;
  }
  return undefined;
}

/**
 * Where a seed run stands, from its counts: every branch is one processor state; the splitter's head and
 * its fan-out clones (one per branch, at least one) and the merger are the rest.
 */
export function seedProgress(row, branches) {
  const splitterStates = Math.max(branches, 1);
  const settled = row.success_count + row.errored_count;
  const processed = Math.min(Math.max(0, settled - splitterStates), branches);
  if (settled < splitterStates) {
    return { processed: 0, node: "DataSplitterNode", waitingOn: "data_splitter (DataSplitterNode)" };
  }
  if (processed < branches) {
    return {
      processed,
      node: "DataProcessorNode",
      waitingOn: `processor (DataProcessorNode), ${branches - processed} of ${branches} branches not done`,
    };
  }
  return { processed, node: "ResultMergerNode", waitingOn: "merger (ResultMergerNode)" };
}

/** What to check about the runtime that serves `nodeName`, from its registration (best effort). */
async function servingHint(listNodes, namespace, nodeName) {
  const generic = "look for errors where the engine runs (`npm start`)";
  let nodes;
  try {
    nodes = await listNodes();
  } catch {
    return generic;
  }
  const node = nodes?.find((n) => n.name === nodeName);
  if (!node) return `${nodeName} is not registered in namespace ${namespace}: ${generic}`;
  if (node.transport === "pull") {
    return (
      `${nodeName} is registered to pull runtime "${node.runtime_name}", which must be running and polling ` +
      "(`npm run runtime:pull`)"
    );
  }
  return `${nodeName} runs on the engine's queue: ${generic}`;
}

const bar = (done, total, width = 40) => {
  const filled = total === 0 ? width : Math.floor((done / total) * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
};

/**
 * Polls the run until no state is pending and answers its row. Shows a progress bar (redrawn in place on
 * a terminal, a line every few seconds otherwise). Throws a ScriptError when the counts have not moved
 * for `stallMs`, naming the node the run seems to wait on and what serves it (`listNodes()` answers the
 * namespace's registered nodes).
 */
export async function watchSeedRun({ sm, listNodes, runId, branches, stallMs, out = process.stdout }) {
  const started = Date.now();
  let lastKey = "";
  let lastChange = started;
  let lastPrinted = 0;
  let lastLine = "";
  for (;;) {
    const row = await findRunRow(sm, runId);
    if (!row) throw new ScriptError(`run ${runId} is not in the runs list of namespace ${sm.namespace}`);
    const { processed, node, waitingOn } = seedProgress(row, branches);
    const now = Date.now();
    const line = `${bar(processed, branches)} ${processed}/${branches} branches done`;
    if (out.isTTY) out.write(`\r${line}`);
    else if (line !== lastLine && (now - lastPrinted >= 5_000 || row.pending_count === 0)) {
      out.write(`${line}\n`);
      lastPrinted = now;
      lastLine = line;
    }
    if (row.pending_count === 0 && row.status !== "PENDING") {
      if (out.isTTY) out.write("\n");
      return row;
    }
    // The engine says what the run waits on once nothing has ended for a while: when nothing serves it,
    // waiting longer is pointless.
    if (waitsOnUnserved(row, now)) {
      if (out.isTTY) out.write("\n");
      throw new ScriptError(
        `run ${runId} waits on nodes nobody serves: ${describeWaiting(row.waiting, now)}; ` +
          "start the runtime that serves them (for the example nodes: `npm start`, or `npm run runtime:pull` in its namespace)",
      );
    }
    const key = [row.success_count, row.errored_count, row.retried_count, row.total_count].join("/");
    if (key !== lastKey) {
      lastKey = key;
      lastChange = now;
    } else if (now - lastChange >= stallMs) {
      if (out.isTTY) out.write("\n");
      const waits = row.waiting?.length
        ? `waits: ${describeWaiting(row.waiting, now)}`
        : `seems to be waiting on ${waitingOn}; ${await servingHint(listNodes, sm.namespace, node)}`;
      throw new ScriptError(
        `no progress for ${stallMs / 1000} s: run ${runId} has ${row.pending_count} pending state(s) and ${waits}, ` +
          "or give it longer with --stall-timeout",
      );
    }
    // Light on the engine: every 250 ms at first, at most once a second later on.
    await new Promise((r) => setTimeout(r, Math.min(1_000, Math.max(250, (now - started) / 50))));
  }
}
