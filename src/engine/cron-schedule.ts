// Scheduling decisions for a namespace's cron triggers, kept apart from the actor that stores them: which
// schedules an upsert adds or removes, what an alarm fires, when the actor should wake next, and how a
// fire that could not reach its run actor is retried. All times are epoch milliseconds, in UTC.

import { dueFire, nextFireAfter } from "./cron";
import type { CronTrigger } from "./model";

/** One stored schedule of one graph: the occurrence it is armed for. (A type alias, so it types SQL rows.) */
export type CronSchedule = {
  expression: string;
  next_fire_at: number;
};

export interface ScheduleChanges {
  /** New expressions, armed for their first occurrence after now. */
  add: CronSchedule[];
  /** Expressions the graph no longer declares (or all of them, when the graph is not VALID). */
  remove: string[];
}

/**
 * The key a schedule is stored under: the expression with its blanks normalised, so `"0 0 * * *"` and
 * `" 0  0 * * *"` in one template are one schedule, not two runs per occurrence.
 */
export function scheduleKey(expression: string): string {
  return expression.trim().split(/\s+/).join(" ");
}

/**
 * What an upsert changes. Only a VALID template is scheduled (as in Exosphere, which creates its cron
 * occurrences only once a version verifies): an INVALID one removes every schedule of the graph, and
 * re-upserting it VALID arms them again from now. An expression kept from the previous version keeps its
 * row and its pending occurrence, so re-upserting never doubles or shifts a schedule.
 */
export function reconcileSchedules(
  current: readonly CronSchedule[],
  triggers: readonly CronTrigger[],
  valid: boolean,
  nowMs: number,
): ScheduleChanges {
  const wanted = new Set(valid ? triggers.map((t) => scheduleKey(t.value.expression)) : []);
  const have = new Set(current.map((s) => s.expression));
  return {
    add: [...wanted]
      .filter((e) => !have.has(e))
      .map((expression) => ({ expression, next_fire_at: nextFireAfter(expression, nowMs) })),
    remove: [...have].filter((e) => !wanted.has(e)),
  };
}

export interface AlarmDecision {
  expression: string;
  /** Start one run for this schedule now. */
  fire: boolean;
  /** The schedule's next occurrence, or null when it has none any more (the row should go). */
  next: number | null;
}

/**
 * What one alarm does with the schedules it found due (`next_fire_at <= nowMs`). Each due schedule fires
 * once, however many occurrences it missed (see {@link dueFire}), and is re-armed strictly after now.
 * An expression that can no longer be evaluated (a stored row the parser now refuses) is dropped rather
 * than left to wake the actor forever.
 */
export function decideDue(due: readonly CronSchedule[], nowMs: number): AlarmDecision[] {
  return due.map((s) => {
    try {
      const { fire, next } = dueFire(s.expression, s.next_fire_at, nowMs);
      return { expression: s.expression, fire, next };
    } catch {
      return { expression: s.expression, fire: false, next: null };
    }
  });
}

/** A fire whose run could not be started is tried again after these delays, then given up. */
export const FIRE_RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000, 600_000] as const;

/** When to try a failed fire again (`attempts` failures so far, ≥ 1), or null to give up. */
export function fireRetryAt(attempts: number, nowMs: number): number | null {
  const delay = FIRE_RETRY_DELAYS_MS[attempts - 1];
  return delay === undefined ? null : nowMs + delay;
}

/** The actor's one alarm: the earliest of its timers, or null when nothing is pending. */
export function earliest(times: Iterable<number | null | undefined>): number | null {
  let min: number | null = null;
  for (const t of times) if (t !== null && t !== undefined && (min === null || t < min)) min = t;
  return min;
}
