// The cancel dialog's rules, kept out of the component so they can be tested: which
// bookings can still be cancelled, which need staff's refund decision (the engine's rule,
// mirrored), when the panel offers a refund on its own ("Devolver pago"), the refund amount's
// client-side checks and where a rejected cancel or refund is shown.

import type { ApiError, BookingView, ChargeView } from './api';
import { amountMessage, type FieldMessage } from './bookingForm';
import { errorMessageKey } from './errors';
import { compareAmounts, formatMoney, normalizeAmount } from './money';
import { bookingInactive, bookingOverKey } from './status';

/** What staff decided about the money of a paid booking: the dialog's three choices. */
export const REFUND_CHOICES = ['none', 'full', 'partial'] as const;
export type RefundChoice = (typeof REFUND_CHOICES)[number];

/** A refund on its own (`refund_charge`) returns money: keeping it is not a choice there. */
export const REFUND_ONLY_CHOICES = ['full', 'partial'] as const satisfies readonly RefundChoice[];

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

/** Why the panel offers "Devolver pago"; each reason has its own words above the button. */
export type RefundOffer = 'kept' | 'keptPart' | 'review';

/**
 * Why the panel offers "Devolver pago" without cancelling anything, or null when it does not.
 * `kept`: the booking no longer stands (cancelled, deleted, never made in GHL) and its charge
 * still holds the money — kept at cancel, or the booking was cancelled in GHL after payment;
 * `keptPart`: the same once part of it was refunded; `review`: a standing booking whose charge
 * needs review (a second approval, an amount that does not match), where a refund settles it.
 */
export function refundOffer(booking: Pick<BookingView, 'status' | 'sync' | 'charge'>): RefundOffer | null {
  const charge = booking.charge;
  if (!charge || !holdsMoney(charge)) return null;
  if (bookingInactive(booking)) return charge.status === 'partially_refunded' ? 'keptPart' : 'kept';
  return charge.status === 'needs_review' ? 'review' : null;
}

/**
 * Whether a refund just asked for is still waiting for MP (the outbox retries it): the charge
 * still shows the status it had before any refund. `charge-updated` settles it either way.
 */
export function refundAwaited(refund: string | null, charge: ChargeView | null | undefined): boolean {
  return refund !== null && refund !== 'none' && !!charge && ['paid', 'needs_review'].includes(charge.status);
}

/**
 * The `refund` argument of `cancel_booking` ("none", "full" or "25.00") or `refund_charge`
 * ("full" or "25.00"), or why it cannot be sent.
 */
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

/**
 * Where a rejected `cancel_booking` or `refund_charge` is shown: next to the refund input, or in
 * the dialog's banner.
 */
export function placeCancelError(error: ApiError): { field: 'refund'; message: FieldMessage } | { banner: ApiError } {
  // "refund", "request.refund" or "refundAmount"-style names all point at the one input.
  const last = (error.details?.field ?? '').split(/[.[\]]/).filter(Boolean).pop()?.toLowerCase() ?? '';
  if (last.startsWith('refund')) {
    const key = error.code === 'VALIDATION' ? 'validation.serverField' : errorMessageKey(error.code);
    return { field: 'refund', message: { key, detail: error.message || undefined } };
  }
  return { banner: error };
}
