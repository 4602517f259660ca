import { describe, expect, it } from 'vitest';
import type { BookingView, ChargeView } from './api';
import {
  canCancel,
  holdsMoney,
  placeCancelError,
  refundArgument,
  refundAwaited,
  refundOffer,
  REFUND_ONLY_CHOICES,
} from './cancel';
import { translate } from './i18n';

const charge = (over: Partial<ChargeView> = {}): ChargeView => ({
  id: 'chg',
  amount: '80.00',
  currency: 'PEN',
  status: 'paid',
  paymentLink: null,
  paidAt: null,
  ...over,
});

const plain = (s: string) => s.replace(/\u00a0|\u202f/g, ' ');

describe('who needs what', () => {
  it('offers cancel until the booking is cancelled or deleted', () => {
    const b = (status: string) => ({ status, sync: 'synced' }) as BookingView;
    expect(canCancel(b('confirmed'))).toBe(true);
    expect(canCancel(b('new'))).toBe(true);
    expect(canCancel(b('cancelled'))).toBe(false);
    expect(canCancel(b('deleted'))).toBe(false);
  });

  it('offers no cancel while GHL is still confirming the booking, nor once it never made it', () => {
    // The engine refuses the first ("still being created", CONFLICT); the second has nothing to cancel.
    expect(canCancel({ status: 'new', sync: 'pending' })).toBe(false);
    expect(canCancel({ status: 'new', sync: 'failed' })).toBe(false);
  });

  it('asks for a refund decision exactly when the engine does', () => {
    for (const status of ['paid', 'partially_refunded', 'needs_review']) {
      expect(holdsMoney(charge({ status })), status).toBe(true);
    }
    for (const status of ['draft', 'open', 'expired', 'cancelled', 'refunded', 'charged_back']) {
      expect(holdsMoney(charge({ status })), status).toBe(false);
    }
    expect(holdsMoney(null)).toBe(false);
  });
});

describe('"Devolver pago"', () => {
  const b = (status: string, chargeStatus: string | null, sync: BookingView['sync'] = 'synced') => ({
    status,
    sync,
    charge: chargeStatus === null ? null : charge({ status: chargeStatus }),
  });

  it('is offered when the booking is over but its charge still holds the money', () => {
    for (const over of ['cancelled', 'deleted']) {
      expect(refundOffer(b(over, 'paid')), over).toBe('kept');
      expect(refundOffer(b(over, 'needs_review')), over).toBe('kept');
      expect(refundOffer(b(over, 'partially_refunded')), over).toBe('keptPart');
    }
    // Money that arrived for a booking GHL never made is kept money too.
    expect(refundOffer(b('new', 'needs_review', 'failed'))).toBe('kept');
  });

  it('is offered on a standing booking only for a charge under review (a second approval)', () => {
    expect(refundOffer(b('confirmed', 'needs_review'))).toBe('review');
    for (const status of ['paid', 'partially_refunded', 'open', 'draft']) {
      expect(refundOffer(b('confirmed', status)), status).toBeNull();
    }
  });

  it('is not offered once nothing is held', () => {
    for (const status of ['refunded', 'cancelled', 'expired', 'charged_back', 'open', 'draft']) {
      expect(refundOffer(b('cancelled', status)), status).toBeNull();
    }
    expect(refundOffer(b('cancelled', null))).toBeNull();
  });

  it('offers full and partial only: keeping the money is not a refund', () => {
    expect([...REFUND_ONLY_CHOICES]).toEqual(['full', 'partial']);
  });

  it('knows a refund is still awaited while the charge shows its status from before', () => {
    expect(refundAwaited('full', charge({ status: 'paid' }))).toBe(true);
    expect(refundAwaited('30.00', charge({ status: 'needs_review' }))).toBe(true);
    expect(refundAwaited('30.00', charge({ status: 'partially_refunded' }))).toBe(false);
    expect(refundAwaited('full', charge({ status: 'refunded' }))).toBe(false);
    expect(refundAwaited('none', charge({ status: 'paid' }))).toBe(false);
    expect(refundAwaited(null, charge({ status: 'paid' }))).toBe(false);
    expect(refundAwaited('full', null)).toBe(false);
  });
});

describe('refundArgument', () => {
  it('needs a choice', () => {
    expect(refundArgument(null, '', charge())).toEqual({ ok: false, message: { key: 'validation.refundChoice' } });
  });

  it('sends none and full as words, ignoring a stray amount', () => {
    expect(refundArgument('none', '12', charge())).toEqual({ ok: true, refund: 'none' });
    expect(refundArgument('full', '', charge())).toEqual({ ok: true, refund: 'full' });
  });

  it('sends a partial amount as exact decimal text at the currency scale', () => {
    expect(refundArgument('partial', '30', charge())).toEqual({ ok: true, refund: '30.00' });
    expect(refundArgument('partial', ' 30,5 ', charge())).toEqual({ ok: true, refund: '30.50' });
    expect(refundArgument('partial', '80', charge())).toEqual({ ok: true, refund: '80.00' });
    expect(refundArgument('partial', '0.01', charge())).toEqual({ ok: true, refund: '0.01' });
  });

  it('refuses what the booking form refuses', () => {
    const problem = (text: string, c = charge()) => {
      const r = refundArgument('partial', text, c);
      return r.ok ? null : r.message;
    };
    expect(problem('')).toEqual({ key: 'validation.amountRequired' });
    expect(problem('abc')).toEqual({ key: 'validation.amountInvalid' });
    expect(problem('-5')).toEqual({ key: 'validation.amountInvalid' });
    expect(problem('0')).toEqual({ key: 'validation.amountPositive' });
    expect(problem('0.00')).toEqual({ key: 'validation.amountPositive' });
    expect(problem('80.001')).toEqual({ key: 'validation.amountScale', params: { scale: 2, currency: 'PEN' } });
    expect(problem('1500.5', charge({ amount: '15000', currency: 'CLP' }))).toEqual({
      key: 'validation.amountNoDecimals',
      params: { currency: 'CLP' },
    });
  });

  it('refuses more than was paid, compared exactly', () => {
    const r = refundArgument('partial', '80.01', charge());
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message.key).toBe('validation.refundTooMuch');
      expect(plain(translate('es', r.message.key, r.message.params))).toBe('No puede ser más de S/ 80.00.');
    }
    expect(refundArgument('partial', '1000', charge({ amount: '999.99' })).ok).toBe(false);
    expect(refundArgument('partial', '15001', charge({ amount: '15000', currency: 'CLP' })).ok).toBe(false);
    expect(refundArgument('partial', '15000', charge({ amount: '15000', currency: 'CLP' }))).toEqual({ ok: true, refund: '15000' });
  });

  it('leaves the upper bound to the engine once only it knows what is left', () => {
    expect(refundArgument('partial', '90', charge({ status: 'partially_refunded' }))).toEqual({ ok: true, refund: '90.00' });
    expect(refundArgument('partial', '90', charge({ status: 'needs_review' }))).toEqual({ ok: true, refund: '90.00' });
  });
});

describe('placeCancelError', () => {
  it('puts a refund error next to the refund input with the server text as detail', () => {
    const error = { code: 'VALIDATION', message: 'at most 50.00 can be refunded', details: { field: 'refund' } };
    expect(placeCancelError(error)).toEqual({
      field: 'refund',
      message: { key: 'validation.serverField', detail: 'at most 50.00 can be refunded' },
    });
    expect(placeCancelError({ ...error, details: { field: 'request.refund' } })).toHaveProperty('field', 'refund');
  });

  it('uses the code message for a non-validation refund error', () => {
    expect(placeCancelError({ code: 'CONFLICT', message: '', details: { field: 'refund' } })).toEqual({
      field: 'refund',
      message: { key: 'error.CONFLICT', detail: undefined },
    });
  });

  it('shows everything else as a banner', () => {
    const conflict = { code: 'CONFLICT', message: 'nothing left to refund on this charge' };
    expect(placeCancelError(conflict)).toEqual({ banner: conflict });
    const other = { code: 'VALIDATION', message: 'x', details: { field: 'bookingId' } };
    expect(placeCancelError(other)).toEqual({ banner: other });
  });
});
