// The benchmark's table (stdout) and its JSON record.

const fmt = (v, digits = 2) => (v === null || v === undefined ? "—" : Number(v).toFixed(digits));
const fmtInt = (v) => (v === null || v === undefined ? "—" : Math.round(v).toLocaleString("en-US"));

/** Adds states/s and the ratios to the floor (a pull row's: the pull floor) and to Workflows at the same n. */
export function withRatios(results) {
  const rate = (job, n) => results.find((r) => r.job === job && r.n === n && r.ok)?.statesPerSecond ?? null;
  return results.map((r) => {
    if (!r.ok) return { ...r, vsFloor: null, vsWorkflows: null };
    const floor = rate(r.floorOf ?? "floor", r.n);
    // A pull row compares with its own floor only: Workflows runs another job.
    const workflows = r.floorOf ? null : rate("workflows", r.n);
    return {
      ...r,
      vsFloor: floor ? r.statesPerSecond / floor : null,
      vsWorkflows: workflows ? r.statesPerSecond / workflows : null,
    };
  });
}

export function table(results) {
  const header = [
    "job",
    "n",
    "seconds",
    "states/s",
    "× floor",
    "× Workflows",
    "peak RSS MB",
    "CPU µs/state",
    "msgs/state",
    "sendBatch/state",
    "report RPCs/state",
    "rows/state",
    "result",
  ];
  const rows = results.map((r) => {
    const c = r.costsPerState;
    return [
      r.job,
      fmtInt(r.n),
      r.ok ? fmt(r.seconds) : "—",
      r.ok ? fmtInt(r.statesPerSecond) : "—",
      fmt(r.vsFloor),
      fmt(r.vsWorkflows, 1),
      r.memory ? fmt(r.memory.peakRssMb, 0) : "—",
      fmt(r.cpuMicrosPerState, 1),
      c ? fmt(c.queueMessages, 3) : "",
      c ? fmt(c.sendBatchCalls, 4) : "",
      c ? fmt(c.reportRpcs, 4) : "",
      c ? fmt(c.rowsWritten, 2) : "",
      r.skipped ? `skipped: ${r.skipped}` : r.ok ? "ok" : `WRONG: ${r.errors.join("; ")}`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}
