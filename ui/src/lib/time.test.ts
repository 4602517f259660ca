import { describe, expect, it } from 'vitest';
import { END_TIMES, START_TIMES, addMinutes, clockIn, isDay, nextStartTime, shiftDay, todayIn } from './time';

describe('clinic time helpers', () => {
  it('offers starts every 30 minutes from 08:00 to 19:30', () => {
    expect(START_TIMES[0]).toBe('08:00');
    expect(START_TIMES.at(-1)).toBe('19:30');
    expect(START_TIMES).toHaveLength(24);
    expect(END_TIMES.at(-1)).toBe('20:00');
  });

  it('adds minutes to a slot', () => {
    expect(addMinutes('09:30', 30)).toBe('10:00');
    expect(addMinutes('19:30', 30)).toBe('20:00');
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

  it('suggests the next free-looking start', () => {
    expect(nextStartTime(9 * 60 + 10)).toBe('09:30');
    expect(nextStartTime(6 * 60)).toBe('08:00');
    expect(nextStartTime(22 * 60)).toBe('08:00');
  });
});
