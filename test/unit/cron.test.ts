import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CronExpressionError, dueFire, isValidCron, nextFireAfter } from "../../src/engine/cron";

const utc = (iso: string) => Date.parse(`${iso}Z`);
const iso = (ms: number) => new Date(ms).toISOString();

describe("isValidCron", () => {
  it.each([
    "* * * * *",
    "*/15 * * * *",
    "0 9 * * MON-FRI",
    "0 9 * * mon-fri",
    "1,2,3 1-5/2 * JAN,FEB sun",
    "10-50/20 0 1 * *",
    "0 0 * * 7",
    "  0 0 * * *  ",
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "@yearly",
    "@annually",
    "@midnight",
    "@DAILY",
    "0 0 L * *",
    "0 0 * * 5#2",
    "0 0 29 2 *",
  ])("accepts %j", (expression) => {
    expect(isValidCron(expression)).toBe(true);
  });

  it.each([
    "",
    "   ",
    "not a cron",
    "* * * *",
    "* * * * * *",
    "0 * * * * *",
    "* * * * * * *",
    "60 * * * *",
    "* 24 * * *",
    "* * 32 * *",
    "* * * 13 *",
    "* * * * 8",
    "5-1 * * * *",
    "*/0 * * * *",
    "5/5 * * * *",
    "0 0 * FOO *",
    "@reboot",
    "@every_minute",
    "2025-01-01T00:00:00",
    "0 0 31 4 *",
    "0 0 30 2 *",
  ])("rejects %j", (expression) => {
    expect(isValidCron(expression)).toBe(false);
  });
});

describe("nextFireAfter", () => {
  it("returns the next occurrence strictly after the given instant", () => {
    expect(iso(nextFireAfter("0 * * * *", utc("2025-01-01T00:30:00")))).toBe("2025-01-01T01:00:00.000Z");
    // exactly on an occurrence: the following one, never the same
    expect(iso(nextFireAfter("0 * * * *", utc("2025-01-01T01:00:00")))).toBe("2025-01-01T02:00:00.000Z");
    expect(iso(nextFireAfter("0 * * * *", utc("2025-01-01T00:59:59.999")))).toBe("2025-01-01T01:00:00.000Z");
    expect(iso(nextFireAfter("* * * * *", utc("2025-01-01T01:00:00.500")))).toBe("2025-01-01T01:01:00.000Z");
  });

  it("walks a schedule without repeats when fed its own result", () => {
    const seen: string[] = [];
    let t = utc("2025-03-31T23:50:00");
    for (let i = 0; i < 4; i++) {
      t = nextFireAfter("*/20 23,0 * * *", t);
      seen.push(iso(t));
    }
    expect(seen).toEqual([
      "2025-04-01T00:00:00.000Z",
      "2025-04-01T00:20:00.000Z",
      "2025-04-01T00:40:00.000Z",
      "2025-04-01T23:00:00.000Z",
    ]);
  });

  it("understands names, ranges, lists, steps and aliases", () => {
    const wed = utc("2025-01-01T10:00:00"); // a Wednesday
    expect(iso(nextFireAfter("0 9 * * MON-FRI", wed))).toBe("2025-01-02T09:00:00.000Z");
    expect(iso(nextFireAfter("0 9 * * SAT,SUN", wed))).toBe("2025-01-04T09:00:00.000Z");
    expect(iso(nextFireAfter("0 0 * * 7", wed))).toBe("2025-01-05T00:00:00.000Z");
    expect(iso(nextFireAfter("30 4 1 MAR *", wed))).toBe("2025-03-01T04:30:00.000Z");
    expect(iso(nextFireAfter("10-50/20 * * * *", wed))).toBe("2025-01-01T10:10:00.000Z");
    expect(iso(nextFireAfter("@hourly", wed))).toBe("2025-01-01T11:00:00.000Z");
    expect(iso(nextFireAfter("@daily", wed))).toBe("2025-01-02T00:00:00.000Z");
    expect(iso(nextFireAfter("@weekly", wed))).toBe("2025-01-05T00:00:00.000Z");
    expect(iso(nextFireAfter("@monthly", wed))).toBe("2025-02-01T00:00:00.000Z");
    expect(iso(nextFireAfter("@yearly", wed))).toBe("2026-01-01T00:00:00.000Z");
    expect(iso(nextFireAfter("0 0 L * *", wed))).toBe("2025-01-31T00:00:00.000Z");
    expect(iso(nextFireAfter("0 0 * * FRI#2", wed))).toBe("2025-01-10T00:00:00.000Z");
    expect(iso(nextFireAfter("0 0 29 2 *", wed))).toBe("2028-02-29T00:00:00.000Z");
  });

  it("matches either day field when both are restricted, as standard cron does", () => {
    // 15th of the month OR any Monday; 2025-01-06 is the first Monday after Jan 1.
    expect(iso(nextFireAfter("0 0 15 * MON", utc("2025-01-01T00:00:00")))).toBe("2025-01-06T00:00:00.000Z");
    expect(iso(nextFireAfter("0 0 15 * MON", utc("2025-01-13T00:00:00")))).toBe("2025-01-15T00:00:00.000Z");
  });

  it("throws a CronExpressionError naming the expression when it is invalid", () => {
    expect(() => nextFireAfter("* * * * * *", 0)).toThrow(CronExpressionError);
    expect(() => nextFireAfter("61 * * * *", 0)).toThrow("Invalid cron expression '61 * * * *'");
  });

  describe("on a host whose local time zone is not UTC", () => {
    // Node re-reads TZ when it changes, so this moves the host's local zone for these tests only.
    beforeAll(() => {
      vi.stubEnv("TZ", "America/New_York");
    });
    afterAll(() => {
      vi.unstubAllEnvs();
    });

    it("still schedules in UTC", () => {
      expect(new Date(utc("2025-01-01T12:00:00")).getHours()).toBe(7); // the zone change took effect
      expect(iso(nextFireAfter("0 9 * * *", utc("2025-01-01T00:00:00")))).toBe("2025-01-01T09:00:00.000Z");
      expect(iso(nextFireAfter("@daily", utc("2025-07-01T12:00:00")))).toBe("2025-07-02T00:00:00.000Z");
    });
  });
});

describe("dueFire", () => {
  const hourly = "0 * * * *";

  it("does nothing before the pending occurrence and keeps it", () => {
    const pending = utc("2025-01-01T10:00:00");
    expect(dueFire(hourly, pending, utc("2025-01-01T09:59:59.999"))).toEqual({ fire: false, next: pending });
  });

  it("fires at the pending occurrence and re-arms at the following one", () => {
    const pending = utc("2025-01-01T10:00:00");
    expect(dueFire(hourly, pending, pending)).toEqual({ fire: true, next: utc("2025-01-01T11:00:00") });
    expect(dueFire(hourly, pending, utc("2025-01-01T10:00:00.250"))).toEqual({
      fire: true,
      next: utc("2025-01-01T11:00:00"),
    });
  });

  it("fires once, not a burst, after downtime that missed many windows", () => {
    const pending = utc("2025-01-01T10:00:00");
    const now = utc("2025-01-03T07:30:00"); // 46 hourly windows missed
    const first = dueFire(hourly, pending, now);
    expect(first).toEqual({ fire: true, next: utc("2025-01-03T08:00:00") });
    // the caller stores `next`; the same instant asked again does not fire a second time
    expect(dueFire(hourly, first.next, now)).toEqual({ fire: false, next: first.next });
  });

  it("schedules strictly after now when now is itself an occurrence", () => {
    const now = utc("2025-01-03T08:00:00");
    expect(dueFire(hourly, utc("2025-01-01T10:00:00"), now).next).toBe(utc("2025-01-03T09:00:00"));
  });
});
