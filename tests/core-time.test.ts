import { describe, expect, it } from 'vitest';
import { parseInstant } from '../core/time.ts';

const at = (text: string) => {
  const r = parseInstant(text, { now: Date.parse('2026-12-01T00:00:00Z') });
  return r.ok ? r.value.toISOString() : r.reason;
};

describe('reading a time as every input takes it', () => {
  it('reads every ISO 8601 form of a zone offset: +02, +0200 and +02:00 are the same time', () => {
    // (+02 alone was refused as "not a real date or time": JavaScript's Date reads only +02:00)
    for (const zone of ['+02', '+0200', '+02:00']) expect(at(`2026-09-15T10:00:00${zone}`)).toBe('2026-09-15T08:00:00.000Z');
    expect(at('2026-09-15T10:00:00-05:30')).toBe('2026-09-15T15:30:00.000Z');
    expect(at('2026-09-15 10:00Z')).toBe('2026-09-15T10:00:00.000Z');
    expect(at('2026-09-15T10:00:00.123456z')).toBe('2026-09-15T10:00:00.123Z');
    expect(at('2026-01-01T01:00:00+02:00')).toBe('2025-12-31T23:00:00.000Z');
    expect(at('2026-09-15')).toBe('2026-09-15T00:00:00.000Z');
  });

  it('refuses what is not a real time, with the reason', () => {
    expect(at('2026-09-15T10:00:00+25:00')).toBe('"2026-09-15T10:00:00+25:00" has no real time zone offset (at most ±23:59)');
    expect(at('2026-09-15T10:00:00+02:60')).toMatch(/has no real time zone offset/);
    expect(at('2026-02-29T10:00:00Z')).toBe('"2026-02-29T10:00:00Z" is not a real date or time');
    expect(at('2026-09-15T24:00:00Z')).toMatch(/is not a real date or time/);
    expect(at('2026-09-15T10:00:00')).toMatch(/has no time zone/);
    expect(at('2026-12-02T00:00:00Z')).toMatch(/lies in the future/);
    expect(at('1969-12-31')).toMatch(/lies outside 1970-2100/);
  });
});
