// "Reprogramar": who can be moved to another time (the engine's rule, mirrored) and what a
// refused move tells staff. The free times themselves come from `free_slots` (slots.ts).

import type { ApiError, BookingView } from './api';
import { canCancel } from './cancel';
import { errorMessageKey } from './errors';
import type { MessageKey } from './i18n';

/**
 * Whether the panel offers "Reprogramar": the booking stands and GHL holds it. The engine
 * refuses (CONFLICT) one pending with GHL, never made there, cancelled or deleted.
 */
export function canReschedule(booking: Pick<BookingView, 'status' | 'sync'>): boolean {
  return canCancel(booking);
}

/** The words for a refused reschedule: a time taken meanwhile, a booking that changed, else its code's. */
export function rescheduleErrorKey(error: ApiError): MessageKey {
  if (error.code === 'SLOT_TAKEN') return 'reschedule.slotTaken';
  if (error.code === 'CONFLICT') return 'reschedule.conflict';
  return errorMessageKey(error.code);
}
