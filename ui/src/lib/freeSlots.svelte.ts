// The free times of one calendar on one day, as the booking form and the reschedule dialog
// offer them: read from `free_slots`, with an answer for another (calendar, day) than the one
// asked last dropped, so a slow answer never replaces a newer list.

import { api, type ApiError, type FreeSlot } from './api';
import { toApiError } from './errors';
import { slotsKey } from './slots';
import { isDay } from './time';

export class FreeSlots {
  list = $state<FreeSlot[]>([]);
  loading = $state(false);
  error = $state<ApiError | null>(null);
  /** The calendar and day the list on screen (or on its way) is for. */
  #for = '';

  /** What the status line says: loading, error, empty or ready. */
  get kind(): 'loading' | 'error' | 'empty' | 'ready' {
    if (this.loading) return 'loading';
    if (this.error) return 'error';
    return this.list.length === 0 ? 'empty' : 'ready';
  }

  /** Reads `calendarId`'s free times on `day`; `false` when a newer request overtook it. */
  async load(calendarId: string, day: string): Promise<boolean> {
    const key = slotsKey(calendarId, day);
    // Another calendar or day: the old times must not be offered while the new ones load.
    if (key !== this.#for) this.list = [];
    this.#for = key;
    this.error = null;
    if (!calendarId || !isDay(day)) {
      this.list = [];
      this.loading = false;
      return true;
    }
    this.loading = true;
    try {
      const list = await api.freeSlots(calendarId, day);
      if (this.#for !== key) return false;
      this.list = list;
    } catch (raw) {
      if (this.#for !== key) return false;
      this.list = [];
      this.error = toApiError(raw);
    } finally {
      if (this.#for === key) this.loading = false;
    }
    return true;
  }
}
