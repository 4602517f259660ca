// Charge status codes (DESIGN.md §3) → the label and tone of their chip; a booking that is over
// → its label; a booking GHL does not hold (yet) → its chip, and whether it still stands.

import type { BookingView } from './api';
import type { MessageKey } from './i18n';

export const CHARGE_STATUSES = [
  'draft',
  'open',
  'paid',
  'paid_at_desk',
  'expired',
  'cancelled',
  'needs_review',
  'refunded',
  'partially_refunded',
  'charged_back',
] as const;
export type ChargeStatus = (typeof CHARGE_STATUSES)[number];

/** Visual tone of a status chip; each maps to one colour pair in the stylesheet. */
export type Tone = 'pending' | 'success' | 'warning' | 'danger' | 'muted';

const TONES: Record<ChargeStatus, Tone> = {
  draft: 'warning',
  open: 'pending',
  paid: 'success',
  paid_at_desk: 'success',
  expired: 'muted',
  cancelled: 'muted',
  needs_review: 'danger',
  refunded: 'muted',
  partially_refunded: 'warning',
  charged_back: 'danger',
};

function known(status: string): status is ChargeStatus {
  return (CHARGE_STATUSES as readonly string[]).includes(status);
}

/** The label key for a charge status in the agenda. */
export function chargeStatusKey(status: string): MessageKey {
  return known(status) ? `charge.status.${status}` : 'charge.status.unknown';
}

/** The chip tone for a charge status. */
export function chargeTone(status: string): Tone {
  return known(status) ? TONES[status] : 'muted';
}

/** The charge panel words it differently while it waits for the patient. */
export function panelStatusKey(status: string): MessageKey {
  if (status === 'open') return 'panel.waiting';
  if (status === 'paid') return 'panel.paid';
  return chargeStatusKey(status);
}

/** The label key for a booking that is over (cancelled or deleted); null while it stands. */
export function bookingOverKey(status: string): MessageKey | null {
  if (status === 'cancelled') return 'booking.status.cancelled';
  if (status === 'deleted') return 'booking.status.deleted';
  return null;
}

/** The chip of a booking GHL does not hold: still being confirmed, or never made; null once GHL holds it. */
export function bookingSyncChip(sync: string): { key: MessageKey; tone: Tone } | null {
  if (sync === 'pending') return { key: 'booking.sync.pending', tone: 'pending' };
  if (sync === 'failed') return { key: 'booking.sync.failed', tone: 'danger' };
  return null;
}

/** A booking that no longer stands — cancelled, deleted, or never made in GHL — is shown quieter. */
export function bookingInactive(booking: Pick<BookingView, 'status' | 'sync'>): boolean {
  return bookingOverKey(booking.status) !== null || booking.sync === 'failed';
}
