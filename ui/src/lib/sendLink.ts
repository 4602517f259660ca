// "Enviar link": which bookings can have their payment link sent to the patient (the
// engine's rule, mirrored), the channels, and the words for each outcome, sent or refused.

import type { ApiError, BookingView, SendChannel } from './api';
import { isOver } from './cancel';
import { errorMessageKey } from './errors';
import type { MessageKey } from './i18n';

/** Each channel's button. */
export const CHANNEL_KEYS: Record<SendChannel, MessageKey> = {
  whatsapp: 'send.whatsapp',
  sms: 'send.sms',
  email: 'send.email',
};

/** "Link enviado por WhatsApp", and so on. */
export const SENT_KEYS: Record<SendChannel, MessageKey> = {
  whatsapp: 'send.sentWhatsapp',
  sms: 'send.sentSms',
  email: 'send.sentEmail',
};

/**
 * Whether the panel offers "Enviar link": the booking is not cancelled, deleted or never made
 * in GHL, and its charge is open with a link. Anything else the engine refuses (CONFLICT).
 */
export function canSendLink(booking: Pick<BookingView, 'status' | 'sync' | 'charge'>): boolean {
  const charge = booking.charge;
  return !isOver(booking.status) && booking.sync !== 'failed' && charge?.status === 'open' && !!charge.paymentLink;
}

/**
 * The words for a refused send (or "Abrir WhatsApp"), with the action to take: a contact GHL
 * holds without a phone or an email, a charge no longer open, else its code's.
 */
export function sendErrorKey(error: ApiError): MessageKey {
  if (error.code === 'VALIDATION' && error.details?.field === 'phone') return 'send.noPhone';
  if (error.code === 'VALIDATION' && error.details?.field === 'email') return 'send.noEmail';
  if (error.code === 'CONFLICT') return 'send.notOpen';
  return errorMessageKey(error.code);
}
