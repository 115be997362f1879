// Child processes for the benchmark: free ports, `wrangler dev` started in its own process group,
// waiting for it to answer, stopping it (and everything it started), and sampling its workerd memory and
// CPU time.
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

/** A port that is free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const started = new Set();

/**
 * Starts `wrangler dev` on 127.0.0.1:`port` in its own process group (so that stopping it stops the
 * workerd processes it spawned too). Output goes to `logPath`'s stream.
 */
export function startWrangler({ wrangler, cwd, args, port, persistTo, log }) {
  const child = spawn(
    wrangler,
    [
      "dev",
      ...args,
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--persist-to",
      persistTo,
      "--show-interactive-dev-session=false",
      "--log-level",
      "warn",
    ],
    {
      cwd,
      detached: true,
      stdio: ["ignore", log, log],
      // Local observability (wrangler's local trace collector) records a span for every storage call
      // into its own SQLite database on the same workerd thread: a cost that grows with each job's
      // operations and that no deployed Worker pays. Every job of the benchmark runs without it.
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1", X_LOCAL_OBSERVABILITY: "false" },
    },
  );
  started.add(child);
  child.on("exit", () => started.delete(child));
  return child;
}

/** Stops one started process group: SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(child, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  signalGroup(child, "SIGTERM");
  const timer = new Promise((resolve) => setTimeout(resolve, graceMs, "timeout"));
  if ((await Promise.race([exited, timer])) === "timeout") {
    signalGroup(child, "SIGKILL");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
  }
}

/** Synchronous last resort (process exit): kill every group this process started. */
export function killAllStartedSync() {
  for (const child of started) signalGroup(child, "SIGKILL");
}

export async function stopAllStarted() {
  await Promise.all([...started].map((c) => stop(c)));
}

function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Waits until `url` answers 200, or throws after `timeoutMs` (or when the process exits). */
export async function waitForOk(url, child, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`wrangler dev exited (code ${child.exitCode}) before ${url} answered`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
}

/** Every descendant of `pid` (by scanning /proc), with its command name. */
function descendants(pid) {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // comm may contain spaces; it is enclosed in the last parentheses pair.
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push({ pid: Number(entry), comm });
      children.set(ppid, list);
    } catch {
      // exited while scanning
    }
  }
  const out = [];
  const stack = [pid];
  while (stack.length > 0) {
    for (const c of children.get(stack.pop()) ?? []) {
      out.push(c);
      stack.push(c.pid);
    }
  }
  return out;
}

function statusKb(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Clock ticks per second of /proc's CPU times (USER_HZ). */
const clockTicks = (() => {
  const out = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim();
  const n = Number(out);
  return Number.isInteger(n) && n > 0 ? n : 100;
})();

/**
 * CPU seconds (user and system, every thread) the workerd processes under `pid` have used so far. The
 * difference across a run is what the run cost the machine, however long it waited: one workerd process
 * runs the job's Workers, their actors, queues and local storage.
 */
export function workerdCpuSeconds(pid) {
  let ticks = 0;
  for (const p of descendants(pid).filter((x) => x.comm === "workerd")) {
    try {
      const stat = readFileSync(`/proc/${p.pid}/stat`, "utf8");
      // Fields after comm: state is field 3, utime and stime are fields 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited while reading
    }
  }
  return ticks / clockTicks;
}

/**
 * The machine's CPU time so far (all cores, in clock ticks) and the part of it the hypervisor gave to
 * other guests (`steal`), from /proc/stat; null where there is none. A run's steal share tells a slow
 * machine from a slow engine: the same run may take half again as long when the host is busy.
 */
export function cpuTimes() {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (ticks.length < 8 || ticks.some((t) => !Number.isFinite(t))) return null;
    return { total: ticks.reduce((a, b) => a + b, 0), steal: ticks[7] };
  } catch {
    return null;
  }
}

/** The percentage of the machine's CPU time stolen between two `cpuTimes()` readings (null: unknown). */
export function stealPercent(before, after) {
  if (!before || !after || after.total <= before.total) return null;
  return (100 * (after.steal - before.steal)) / (after.total - before.total);
}

/** Current RSS and high-water mark (kB), summed over the workerd processes under `pid`. */
export function workerdMemory(pid) {
  const procs = descendants(pid).filter((p) => p.comm === "workerd");
  let rss = 0;
  let hwm = 0;
  for (const p of procs) {
    rss += statusKb(p.pid, "VmRSS");
    hwm += statusKb(p.pid, "VmHWM");
  }
  return { rssKb: rss, hwmKb: hwm, processes: procs.length };
}

/**
 * Samples the workerd memory of `pid` every `everyMs` until stopped; `stop()` answers the RSS before
 * the job, the peak sampled RSS and the high-water mark at the end (all MB).
 */
export function sampleMemory(pid, everyMs = 200) {
  const before = workerdMemory(pid);
  let peak = before.rssKb;
  const timer = setInterval(() => {
    peak = Math.max(peak, workerdMemory(pid).rssKb);
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const end = workerdMemory(pid);
      peak = Math.max(peak, end.rssKb);
      const mb = (kb) => Math.round(kb / 102.4) / 10;
      return {
        rssBeforeMb: mb(before.rssKb),
        peakRssMb: mb(peak),
        hwmMb: mb(end.hwmKb),
        processes: end.processes,
      };
    },
  };
}
