import { describe, expect, it } from 'vitest';
import type { FreeSlot } from './api';
import { endOf, keepChosen, slotLabel, slotsKey } from './slots';

const slot = (localStart: string, localEnd: string): FreeSlot => ({
  startsAt: `2025-05-14T${localStart}:00.000Z`,
  endsAt: `2025-05-14T${localEnd}:00.000Z`,
  localStart,
  localEnd,
});
const day = [slot('08:00', '08:30'), slot('09:00', '09:30'), slot('10:00', '11:00')];

describe('free-slot picker', () => {
  it('labels a slot with its clinic-local start and end', () => {
    expect(slotLabel(day[2])).toBe('10:00–11:00');
  });

  it('keeps the chosen time while it is free, else the first free one, else none', () => {
    expect(keepChosen(day, '09:00')).toBe('09:00');
    expect(keepChosen(day, '08:30')).toBe('08:00');
    expect(keepChosen(day, '')).toBe('08:00');
    expect(keepChosen([], '09:00')).toBe('');
  });

  it('ends where the slot ends (the calendar’s slot length)', () => {
    expect(endOf(day, '10:00')).toBe('11:00');
    expect(endOf(day, '10:30')).toBe('');
  });

  it('tells the lists of two calendars or days apart', () => {
    expect(slotsKey('cal-a', '2025-05-14')).not.toBe(slotsKey('cal-b', '2025-05-14'));
    expect(slotsKey('cal-a', '2025-05-14')).not.toBe(slotsKey('cal-a', '2025-05-15'));
  });
});
