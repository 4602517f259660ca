// Attendance at the desk: who can be marked "Llegó" / "No asistió" (the engine's rule,
// mirrored: a booking that stands and GHL holds), and what the agenda shows from GHL's
// appointment status (`showed`, `noshow`).

import type { Attendance, BookingView } from './api';
import type { MessageKey } from './i18n';
import type { Tone } from './status';
import { canCancel } from './cancel';

/**
 * Whether the panel offers "Llegó" and "No asistió": the engine refuses (CONFLICT) a booking
 * still pending with GHL, one GHL never made, and one cancelled or deleted.
 */
export function canMarkAttendance(booking: Pick<BookingView, 'status' | 'sync'>): boolean {
  return canCancel(booking);
}

/** The attendance GHL holds for a booking, if it was marked. */
export function attendanceOf(status: string): Attendance | null {
  return status === 'showed' || status === 'noshow' ? status : null;
}

/** The agenda's chip for a marked booking; null while unmarked. */
export function attendanceChip(status: string): { key: MessageKey; tone: Tone } | null {
  const marked = attendanceOf(status);
  if (marked === 'showed') return { key: 'attendance.showed', tone: 'success' };
  if (marked === 'noshow') return { key: 'attendance.noshow', tone: 'warning' };
  return null;
}
