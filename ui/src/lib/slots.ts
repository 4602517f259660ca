// The free-slot picker's rules: what each offered time reads, which one stays chosen when the
// list is read again (another desk may have taken it), and when an answer is out of date.

import type { FreeSlot } from './api';

/** "08:00–08:30": a slot in the clinic's wall clock, as the picker and the agenda write times. */
export function slotLabel(slot: Pick<FreeSlot, 'localStart' | 'localEnd'>): string {
  return `${slot.localStart}–${slot.localEnd}`;
}

/**
 * The start to keep chosen after the slots were read: the one staff chose if it is still free,
 * else the first free one, else none ("").
 */
export function keepChosen(slots: readonly FreeSlot[], chosen: string): string {
  if (slots.some((s) => s.localStart === chosen)) return chosen;
  return slots[0]?.localStart ?? '';
}

/** The end that goes with the chosen start: the slot's ("" when that start is not offered). */
export function endOf(slots: readonly FreeSlot[], start: string): string {
  return slots.find((s) => s.localStart === start)?.localEnd ?? '';
}

/** Which free-slot list is asked for; an answer for another one is dropped. */
export function slotsKey(calendarId: string, day: string): string {
  return `${calendarId}|${day}`;
}
