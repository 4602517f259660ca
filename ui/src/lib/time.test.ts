import { describe, expect, it } from 'vitest';
import { clockIn, isDay, shiftDay, todayIn, toMinutes } from './time';

describe('clinic time helpers', () => {
  it('reads "HH:MM" as minutes after midnight, NaN when malformed', () => {
    expect(toMinutes('09:30')).toBe(570);
    expect(toMinutes('24:00')).toBeNaN();
    expect(toMinutes('')).toBeNaN();
  });

  it('takes today in the clinic zone, not the machine', () => {
    // 02:00 UTC on the 15th is still the 14th in Lima (UTC−5).
    expect(todayIn('America/Lima', new Date('2025-05-15T02:00:00Z'))).toBe('2025-05-14');
    expect(todayIn('Asia/Tokyo', new Date('2025-05-15T02:00:00Z'))).toBe('2025-05-15');
  });

  it('reads an instant as the clinic zone’s 24-hour clock', () => {
    expect(clockIn(new Date('2025-05-15T00:30:00Z'), 'America/Lima')).toBe('19:30');
    expect(clockIn(new Date('2025-05-15T05:00:00Z'), 'America/Lima')).toBe('00:00');
    expect(clockIn(new Date('2025-05-15T00:30:00Z'), 'Not/AZone')).toMatch(/^\d{2}:\d{2}$/);
  });

  it('moves across month and year ends', () => {
    expect(shiftDay('2025-12-31', 1)).toBe('2026-01-01');
    expect(shiftDay('2024-03-01', -1)).toBe('2024-02-29');
  });

  it('recognises real dates only', () => {
    expect(isDay('2025-02-28')).toBe(true);
    expect(isDay('2025-02-30')).toBe(false);
    expect(isDay('')).toBe(false);
  });
});
