import { describe, expect, it } from 'vitest';
import type { BookingView, ChargeView } from './api';
import { SEND_CHANNELS } from './api';
import { translate } from './i18n';
import { canSendLink, SENT_KEYS, sendErrorKey } from './sendLink';

const charge = (status: string, paymentLink: string | null = 'https://pay/x'): ChargeView => ({
  id: 'c', amount: '80.00', currency: 'PEN', status, paymentLink, paidAt: null,
});
const booking = (over: Partial<Pick<BookingView, 'status' | 'sync' | 'charge'>>) => ({
  status: 'confirmed', sync: 'synced' as const, charge: charge('open'), ...over,
});

describe('send link', () => {
  it('offers sending only an open charge with a link on a booking that is not over', () => {
    expect(canSendLink(booking({}))).toBe(true);
    expect(canSendLink(booking({ status: 'showed' }))).toBe(true);
    expect(canSendLink(booking({ charge: charge('open', null) }))).toBe(false);
    for (const status of ['draft', 'paid', 'expired', 'cancelled', 'refunded', 'needs_review']) {
      expect(canSendLink(booking({ charge: charge(status) })), status).toBe(false);
    }
    expect(canSendLink(booking({ charge: null }))).toBe(false);
    expect(canSendLink(booking({ status: 'cancelled' }))).toBe(false);
    expect(canSendLink(booking({ status: 'deleted' }))).toBe(false);
    expect(canSendLink(booking({ sync: 'failed' }))).toBe(false);
  });

  it('says which channel the link went by', () => {
    expect(SEND_CHANNELS.map((c) => translate('es', SENT_KEYS[c]))).toEqual([
      'Link enviado por WhatsApp',
      'Link enviado por SMS',
      'Link enviado por email',
    ]);
  });

  it('says a refusal with the action to take', () => {
    const phone = sendErrorKey({ code: 'VALIDATION', message: '', details: { field: 'phone' } });
    expect(translate('es', phone)).toMatch(/^El paciente no tiene teléfono en GHL/);
    expect(sendErrorKey({ code: 'VALIDATION', message: '', details: { field: 'email' } })).toBe('send.noEmail');
    expect(sendErrorKey({ code: 'VALIDATION', message: '', details: { field: 'channel' } })).toBe('error.VALIDATION');
    expect(sendErrorKey({ code: 'CONFLICT', message: '' })).toBe('send.notOpen');
    expect(sendErrorKey({ code: 'PROVIDER_UNAVAILABLE', message: '' })).toBe('error.PROVIDER_UNAVAILABLE');
  });
});
