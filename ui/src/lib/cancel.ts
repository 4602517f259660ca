// The cancel dialog's rules, kept out of the component so they can be tested: which
// bookings can still be cancelled, which need staff's refund decision (the engine's rule,
// mirrored), the refund amount's client-side checks and where a rejected cancel is shown.

import type { ApiError, BookingView, ChargeView } from './api';
import { amountMessage, type FieldMessage } from './bookingForm';
import { errorMessageKey } from './errors';
import { compareAmounts, formatMoney, normalizeAmount } from './money';
import { bookingOverKey } from './status';

/** What staff decided about the money of a paid booking: the dialog's three choices. */
export const REFUND_CHOICES = ['none', 'full', 'partial'] as const;
export type RefundChoice = (typeof REFUND_CHOICES)[number];

/** Booking statuses after which there is nothing left to cancel. */
export function isOver(bookingStatus: string): boolean {
  return bookingOverKey(bookingStatus) !== null;
}

/**
 * Whether the desk may offer "Cancelar cita" for `booking`: it stands and GHL holds it. The
 * engine refuses a booking still pending with GHL (CONFLICT), and one GHL never made has
 * nothing left to cancel (its charge already is).
 */
export function canCancel(booking: Pick<BookingView, 'status' | 'sync'>): boolean {
  return !isOver(booking.status) && booking.sync === 'synced';
}

/** Charges holding the patient's money: cancelling their booking needs a refund decision. */
export function holdsMoney(charge: ChargeView | null | undefined): boolean {
  return !!charge && ['paid', 'partially_refunded', 'needs_review'].includes(charge.status);
}

/** The `refund` argument of `cancel_booking` ("none", "full" or "25.00"), or why it cannot be sent. */
export function refundArgument(
  choice: RefundChoice | null,
  amountText: string,
  charge: ChargeView,
): { ok: true; refund: string } | { ok: false; message: FieldMessage } {
  if (!choice) return { ok: false, message: { key: 'validation.refundChoice' } };
  if (choice !== 'partial') return { ok: true, refund: choice };
  const amount = normalizeAmount(amountText, charge.currency);
  if (!amount.ok) return { ok: false, message: amountMessage(amount.problem, charge.currency) };
  // A paid charge holds exactly its amount. After an earlier refund, or with a mismatched
  // payment under review, only the engine knows what is left: it checks and names `refund`.
  if (charge.status === 'paid' && compareAmounts(amount.amount, charge.amount, charge.currency) > 0) {
    return {
      ok: false,
      message: { key: 'validation.refundTooMuch', params: { amount: formatMoney(charge.amount, charge.currency) } },
    };
  }
  return { ok: true, refund: amount.amount };
}

/** Where a rejected `cancel_booking` is shown: next to the refund input, or in the dialog's banner. */
export function placeCancelError(error: ApiError): { field: 'refund'; message: FieldMessage } | { banner: ApiError } {
  // "refund", "request.refund" or "refundAmount"-style names all point at the one input.
  const last = (error.details?.field ?? '').split(/[.[\]]/).filter(Boolean).pop()?.toLowerCase() ?? '';
  if (last.startsWith('refund')) {
    const key = error.code === 'VALIDATION' ? 'validation.serverField' : errorMessageKey(error.code);
    return { field: 'refund', message: { key, detail: error.message || undefined } };
  }
  return { banner: error };
}
