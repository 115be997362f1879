// The benchmark's reading of the machine's stolen CPU time (scripts/bench/processes.mjs), printed with
// every row so that a run slowed down by the host can be told from a slow engine, and of the CPU time a
// job's workerd processes used (each row's CPU µs per state).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cpuTimes, stealPercent, workerdCpuSeconds } from "../../scripts/bench/processes.mjs";

describe("stolen CPU time", () => {
  it("is the share of the machine's CPU time between two readings that went to other guests", () => {
    expect(stealPercent({ total: 1_000, steal: 10 }, { total: 3_000, steal: 210 })).toBe(10);
    expect(stealPercent({ total: 1_000, steal: 10 }, { total: 2_000, steal: 10 })).toBe(0);
  });

  it("is unknown without two readings, or when no time passed", () => {
    expect(stealPercent(null, { total: 1, steal: 0 })).toBeNull();
    expect(stealPercent({ total: 1, steal: 0 }, null)).toBeNull();
    expect(stealPercent({ total: 5, steal: 1 }, { total: 5, steal: 1 })).toBeNull();
  });

  it("is read from the machine's counters where it has them", () => {
    const first = cpuTimes();
    if (process.platform !== "linux") {
      expect(first).toBeNull();
      return;
    }
    expect(first?.total).toBeGreaterThan(0);
    expect(first?.steal).toBeGreaterThanOrEqual(0);
    expect(first?.steal).toBeLessThanOrEqual(first?.total ?? 0);
  });
});

describe.skipIf(process.platform !== "linux")("CPU time of a job's workerd processes", () => {
  /** A child of this process that spins until killed, its process named `name` (a link to node). */
  const spinner = (dir, name) => {
    const exe = join(dir, name);
    symlinkSync(process.execPath, exe);
    return spawn(exe, ["-e", "for (;;) {}"], { stdio: "ignore" });
  };
  const spinFor = (ms) => {
    const end = Date.now() + ms;
    return new Promise((resolve) => {
      const tick = () => (Date.now() >= end ? resolve() : setTimeout(tick, 20));
      tick();
    });
  };

  it("adds up the CPU time of the workerd processes under a process, and of nothing else", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bench-cpu-"));
    const other = spinner(dir, "node-busy");
    const workerd = spinner(dir, "workerd");
    try {
      const before = workerdCpuSeconds(process.pid);
      await spinFor(600);
      const used = workerdCpuSeconds(process.pid) - before;
      // The spinning workerd used CPU the whole time (at least a share of a core on a busy machine).
      expect(used).toBeGreaterThan(0.1);
      workerd.kill("SIGKILL");
      await new Promise((resolve) => workerd.once("exit", resolve));
      // The other spinner is still running, and it is not a workerd: nothing is counted.
      expect(other.exitCode).toBeNull();
      expect(workerdCpuSeconds(process.pid)).toBe(0);
    } finally {
      other.kill("SIGKILL");
      workerd.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
