import { Cron } from "croner";

/**
 * Cron schedules for graph triggers, always in UTC.
 *
 * Accepted syntax (decided here, pinned by test/unit/cron.test.ts):
 * - the standard 5 fields `minute hour day-of-month month day-of-week`, with `*`, ranges `1-5`, steps (`/n` after `*` or a
 *   range, as in `10-50/20`), lists `1,15`, month names `JAN`–`DEC` and day names `SUN`–`SAT` (any case), `7` = Sunday;
 *   when both day fields are restricted, a day matches either one (Vixie cron and croniter do the same);
 * - the aliases `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`;
 * - croner's day extensions `L` (last day of month / last weekday), `#` (nth weekday), `W`, `?`.
 *
 * Rejected:
 * - 6- and 7-field forms. croniter (Exosphere) reads a 6th field as *trailing* seconds, croner as *leading*
 *   seconds, so accepting them would silently schedule a different time than Exosphere; schedules below one
 *   minute are also outside what Exosphere's one-minute tick ever delivered.
 * - `@reboot`, ISO dates (croner would treat them as one-off jobs), and expressions that never fire
 *   (`0 0 31 4 *`), so a graph is refused at upsert instead of silently never triggering.
 */

const ALIASES = new Set(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]);

function parse(expression: string): Cron {
  const trimmed = expression.trim();
  const isAlias = ALIASES.has(trimmed.toLowerCase());
  // Checked before croner sees it: croner treats a single token like "2025-01-01T00:00" as a one-off date.
  if (!isAlias && trimmed.split(/\s+/).length !== 5) {
    throw new CronExpressionError(
      expression,
      "expected 5 fields (minute hour day month weekday) or an alias",
    );
  }
  try {
    // timezone "UTC" rather than utcOffset 0: croner treats a falsy offset as "no offset" (host local time).
    return new Cron(isAlias ? trimmed.toLowerCase() : trimmed, { timezone: "UTC", mode: "5-part" });
  } catch (e) {
    throw new CronExpressionError(expression, e instanceof Error ? e.message : String(e), e);
  }
}

export class CronExpressionError extends Error {
  constructor(
    readonly expression: string,
    readonly reason: string,
    cause?: unknown,
  ) {
    super(`Invalid cron expression '${expression}': ${reason}`, { cause });
    this.name = "CronExpressionError";
  }
}

/** True when `expression` is accepted (see the syntax above) and fires at least once from now on. */
export function isValidCron(expression: string): boolean {
  try {
    return parse(expression).nextRun(new Date()) !== null;
  } catch {
    return false;
  }
}

/**
 * The first occurrence strictly after `afterMs` (epoch ms, UTC), in epoch ms. An occurrence exactly at
 * `afterMs` is not returned, so feeding the result back in walks the schedule without repeats.
 * Throws CronExpressionError for an invalid expression or one with no further occurrence.
 */
export function nextFireAfter(expression: string, afterMs: number): number {
  const next = parse(expression).nextRun(new Date(afterMs));
  if (next === null)
    throw new CronExpressionError(expression, `no occurrence after ${new Date(afterMs).toISOString()}`);
  return next.getTime();
}

export interface CronDue {
  /** Whether the trigger should start one run now. */
  fire: boolean;
  /** When to look again: the pending occurrence if not yet due, else the first occurrence strictly after now. */
  next: number;
}

/**
 * Decides an alarm for a cron trigger. `lastScheduledMs` is the occurrence the trigger is currently armed
 * for (the stored pending fire time, first computed with {@link nextFireAfter} at upsert).
 *
 * FIX over Exosphere, which after downtime fires every missed occurrence in one tick: if the pending
 * occurrence is at or before `nowMs`, this says fire exactly once, however many occurrences were missed, and
 * re-arms at the first occurrence strictly after `nowMs`. Before it is due (an early or spurious alarm), it
 * says do nothing and keep the pending time. Pure, so calling it twice for the same alarm is safe as long as
 * the caller stores `next` in the same transaction that records the fire.
 */
export function dueFire(expression: string, lastScheduledMs: number, nowMs: number): CronDue {
  if (lastScheduledMs > nowMs) return { fire: false, next: lastScheduledMs };
  return { fire: true, next: nextFireAfter(expression, nowMs) };
}
