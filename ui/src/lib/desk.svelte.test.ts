import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { BookingView, ChargeView, PendingEffect } from './api';

const api = vi.hoisted(() => ({
  appStatus: vi.fn(),
  listCalendars: vi.fn(),
  listBookings: vi.fn(),
  createBooking: vi.fn(),
  chargeQr: vi.fn(),
  simulatePayment: vi.fn(),
  retryLink: vi.fn(),
  cancelBooking: vi.fn(),
  refundCharge: vi.fn(),
  checkPayment: vi.fn(),
  pendingEffects: vi.fn(),
  markAttendance: vi.fn(),
  rescheduleBooking: vi.fn(),
  sendPaymentLink: vi.fn(),
  whatsappLink: vi.fn(),
  onChargeUpdated: vi.fn(),
  onEffectsUpdated: vi.fn(),
}));
vi.mock('./api', () => ({ api }));

const { Desk } = await import('./desk.svelte');

function booking(id: string, charge: Partial<ChargeView> | null): BookingView {
  return {
    id,
    ghlId: null,
    calendarId: 'cal',
    calendarName: 'Cal',
    title: 'Consulta',
    patientName: id,
    startsAt: '2025-05-14T14:00:00Z',
    endsAt: '2025-05-14T14:30:00Z',
    localDate: '2025-05-14',
    localStart: '09:00',
    localEnd: '09:30',
    status: 'confirmed',
    sync: 'synced',
    charge: charge && {
      id: `chg-${id}`,
      amount: '80.00',
      currency: 'PEN',
      status: 'open',
      paymentLink: 'https://pay/x',
      paidAt: null,
      ...charge,
    },
  };
}

const qrFor = (chargeId: string, status = 'open') => ({
  chargeId,
  svg: '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>',
  paymentLink: 'https://pay/x',
  amount: '80.00',
  currency: 'PEN',
  status,
});

const owed = (kind: string, attempts = 1, lastError: string | null = 'GoHighLevel no responde'): PendingEffect => ({
  kind,
  attempts,
  lastError,
  nextAttemptAt: '2025-05-14T14:05:00.000Z',
});

describe('Desk', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    api.chargeQr.mockImplementation(async (id: string) => qrFor(id));
    api.pendingEffects.mockResolvedValue([]);
  });

  it('marks a charge paid in the agenda and the open panel when the event arrives', async () => {
    const desk = new Desk();
    api.listBookings.mockResolvedValue([booking('a', {}), booking('b', {})]);
    await desk.showDay('2025-05-14');
    await desk.select(desk.bookings[0]);
    expect(desk.qr?.svg.startsWith('<svg')).toBe(true);

    desk.applyUpdate({ chargeId: 'chg-a', bookingId: 'a', status: 'paid' });
    expect(desk.bookings[0].charge?.status).toBe('paid');
    expect(desk.bookings[1].charge?.status).toBe('open');
    expect(desk.selected?.charge?.status).toBe('paid');
    expect(desk.selected?.charge?.paidAt).not.toBeNull();
    expect(api.listBookings).toHaveBeenCalledTimes(1);
  });

  it('reloads the day when an update names a charge it does not show', async () => {
    const desk = new Desk();
    api.listBookings.mockResolvedValue([]);
    await desk.showDay('2025-05-14');
    desk.applyUpdate({ chargeId: 'chg-elsewhere', bookingId: 'x', status: 'paid' });
    expect(api.listBookings).toHaveBeenCalledTimes(2);
  });

  it('fetches the QR once a pending link becomes open', async () => {
    const desk = new Desk();
    api.listBookings.mockResolvedValue([booking('d', { status: 'draft', paymentLink: null })]);
    await desk.showDay('2025-05-14');
    await desk.select(desk.bookings[0]);
    expect(api.chargeQr).not.toHaveBeenCalled();

    desk.applyUpdate({ chargeId: 'chg-d', bookingId: 'd', status: 'open' });
    await vi.waitFor(() => expect(desk.qr?.chargeId).toBe('chg-d'));
  });

  it('drops an agenda answer for a day no longer shown', async () => {
    const desk = new Desk();
    let answerFirst: (list: BookingView[]) => void = () => {};
    api.listBookings
      .mockImplementationOnce(() => new Promise((resolve) => (answerFirst = resolve)))
      .mockResolvedValueOnce([booking('second-day', null)]);
    const first = desk.showDay('2025-05-14');
    await desk.showDay('2025-05-15');
    answerFirst([booking('first-day', null)]);
    await first;
    expect(desk.day).toBe('2025-05-15');
    expect(desk.bookings.map((b) => b.id)).toEqual(['second-day']);
  });

  it('keeps a failed QR as a panel error', async () => {
    const desk = new Desk();
    api.chargeQr.mockRejectedValue({ code: 'MP_UNAUTHORIZED', message: 'bad token' });
    await desk.select(booking('e', {}));
    expect(desk.panelError).toEqual({ code: 'MP_UNAUTHORIZED', message: 'bad token' });
  });

  it('cancels the booking on screen and shows what Rust returned in the agenda and the panel', async () => {
    const desk = new Desk();
    api.listBookings.mockResolvedValue([booking('a', {}), booking('b', {})]);
    await desk.showDay('2025-05-14');
    await desk.select(desk.bookings[0]);
    api.cancelBooking.mockResolvedValue({ ...booking('a', { status: 'cancelled' }), status: 'cancelled' });

    expect(await desk.cancelSelected(null)).toBeNull();
    expect(api.cancelBooking).toHaveBeenCalledWith('a', null);
    expect(desk.bookings[0].status).toBe('cancelled');
    expect(desk.bookings[0].charge?.status).toBe('cancelled');
    expect(desk.bookings[1].status).toBe('confirmed');
    expect(desk.selected?.status).toBe('cancelled');
    expect(desk.qr?.status).toBe('cancelled');
    expect(desk.cancelling).toBe(false);
    expect(desk.refundPending).toBeNull();

    // The panel and its agenda row stay one object: a later event reaches both.
    expect(desk.selected).toBe(desk.bookings[0]);
    desk.applyUpdate({ chargeId: 'chg-a', bookingId: 'a', status: 'expired' });
    expect(desk.selected?.charge?.status).toBe('expired');
    expect(desk.bookings[0].charge?.status).toBe('expired');
  });

  it('passes the refund decision and shows a refunded charge', async () => {
    const desk = new Desk();
    api.listBookings.mockResolvedValue([booking('p', { status: 'paid' })]);
    await desk.showDay('2025-05-14');
    await desk.select(desk.bookings[0]);
    api.cancelBooking.mockResolvedValue({ ...booking('p', { status: 'partially_refunded' }), status: 'cancelled' });

    expect(await desk.cancelSelected('30.00')).toBeNull();
    expect(api.cancelBooking).toHaveBeenCalledWith('p', '30.00');
    expect(desk.bookings[0].charge?.status).toBe('partially_refunded');
    expect(desk.selected?.charge?.status).toBe('partially_refunded');
    expect(desk.refundPending).toBeNull();
  });

  it('remembers a refund MP has not confirmed yet until the charge changes', async () => {
    const desk = new Desk();
    api.listBookings.mockResolvedValue([booking('p', { status: 'paid' })]);
    await desk.showDay('2025-05-14');
    await desk.select(desk.bookings[0]);
    api.cancelBooking.mockResolvedValue({ ...booking('p', { status: 'paid' }), status: 'cancelled' });

    expect(await desk.cancelSelected('full')).toBeNull();
    expect(desk.refundPending).toBe('chg-p');
    desk.applyUpdate({ chargeId: 'chg-p', bookingId: 'p', status: 'refunded' });
    expect(desk.refundPending).toBeNull();
    expect(desk.selected?.charge?.status).toBe('refunded');
  });

  it('keeping the money is no pending refund', async () => {
    const desk = new Desk();
    await desk.select(booking('p', { status: 'paid' }));
    api.cancelBooking.mockResolvedValue({ ...booking('p', { status: 'paid' }), status: 'cancelled' });
    expect(await desk.cancelSelected('none')).toBeNull();
    expect(desk.refundPending).toBeNull();
    expect(desk.selected?.status).toBe('cancelled');
  });

  it('hands a refused cancel back unchanged, and re-reads a charge paid meanwhile', async () => {
    const desk = new Desk();
    api.listBookings.mockResolvedValue([booking('a', {})]);
    await desk.showDay('2025-05-14');
    await desk.select(desk.bookings[0]);
    const refused = { code: 'VALIDATION', message: 'the booking is paid', details: { field: 'refund' } };
    api.cancelBooking.mockRejectedValue(refused);
    api.chargeQr.mockImplementation(async (id: string) => qrFor(id, 'paid'));

    expect(await desk.cancelSelected(null)).toEqual(refused);
    expect(desk.selected?.status).toBe('confirmed');
    expect(desk.selected?.charge?.status).toBe('paid');
    expect(desk.cancelling).toBe(false);

    api.cancelBooking.mockRejectedValue({ code: 'PROVIDER_UNAVAILABLE', message: 'GHL down' });
    expect(await desk.cancelSelected('full')).toEqual({ code: 'PROVIDER_UNAVAILABLE', message: 'GHL down' });
  });

  it('does nothing without a booking on screen', async () => {
    const desk = new Desk();
    expect(await desk.cancelSelected(null)).toBeNull();
    await desk.checkPayment();
    expect(api.cancelBooking).not.toHaveBeenCalled();
    expect(api.checkPayment).not.toHaveBeenCalled();
  });

  it('checks a payment now and shows the fresh status everywhere', async () => {
    const desk = new Desk();
    api.listBookings.mockResolvedValue([booking('a', {})]);
    await desk.showDay('2025-05-14');
    await desk.select({ ...desk.bookings[0], charge: { ...desk.bookings[0].charge! } });
    api.checkPayment.mockResolvedValue(null);
    api.chargeQr.mockImplementation(async (id: string) => qrFor(id, 'paid'));

    await desk.checkPayment();
    expect(api.checkPayment).toHaveBeenCalledWith('chg-a');
    expect(desk.selected?.charge?.status).toBe('paid');
    expect(desk.selected?.charge?.paidAt).not.toBeNull();
    expect(desk.bookings[0].charge?.status).toBe('paid');
    expect(desk.checkedCharge).toBe('chg-a');
    expect(desk.checking).toBe(false);
  });

  it('says when MP still has no payment, and forgets it when another booking is shown', async () => {
    const desk = new Desk();
    await desk.select(booking('a', {}));
    api.checkPayment.mockResolvedValue(null);
    await desk.checkPayment();
    expect(desk.selected?.charge?.status).toBe('open');
    expect(desk.checkedCharge).toBe('chg-a');
    await desk.select(booking('b', {}));
    expect(desk.checkedCharge).toBeNull();
  });

  it('keeps a failed check as a panel error', async () => {
    const desk = new Desk();
    await desk.select(booking('a', {}));
    api.checkPayment.mockRejectedValue({ code: 'MP_UNAUTHORIZED', message: 'bad token' });
    await desk.checkPayment();
    expect(desk.panelError).toEqual({ code: 'MP_UNAUTHORIZED', message: 'bad token' });
    expect(desk.checkedCharge).toBeNull();
    expect(desk.checking).toBe(false);
  });

  describe('a booking GHL has not confirmed', () => {
    const pending = () => ({ ...booking('u', { status: 'draft', paymentLink: null }), status: 'new', sync: 'pending' as const });
    const adopted = () => booking('u', {});
    const failed = () => ({ ...booking('u', { status: 'cancelled', paymentLink: null }), status: 'new', sync: 'failed' as const });

    it('takes its fresh row when the reconciler adopts it, and shows the link it opened', async () => {
      const desk = new Desk();
      api.listBookings.mockResolvedValueOnce([pending()]).mockResolvedValueOnce([adopted()]);
      await desk.showDay('2025-05-14');
      await desk.select(desk.bookings[0]);
      expect(api.chargeQr).not.toHaveBeenCalled();

      desk.applyUpdate({ chargeId: 'chg-u', bookingId: 'u', status: 'open' });
      await vi.waitFor(() => expect(desk.selected?.sync).toBe('synced'));
      expect(api.listBookings).toHaveBeenCalledTimes(2);
      expect(desk.bookings[0].sync).toBe('synced');
      expect(desk.selected).toBe(desk.bookings[0]);
      await vi.waitFor(() => expect(desk.qr?.chargeId).toBe('chg-u'));
      expect(desk.panelError).toBeNull();
    });

    it('takes its fresh row when the reconciler fails it, and reads no QR for a link never made', async () => {
      const desk = new Desk();
      api.listBookings.mockResolvedValueOnce([pending()]).mockResolvedValueOnce([failed()]);
      await desk.showDay('2025-05-14');
      await desk.select(desk.bookings[0]);

      desk.applyUpdate({ chargeId: 'chg-u', bookingId: 'u', status: 'cancelled' });
      await vi.waitFor(() => expect(desk.selected?.sync).toBe('failed'));
      expect(desk.selected?.charge?.status).toBe('cancelled');
      expect(api.chargeQr).not.toHaveBeenCalled();
      expect(desk.panelError).toBeNull();
    });

    it('takes its fresh row on any reload of the day, even without an event', async () => {
      const desk = new Desk();
      api.listBookings.mockResolvedValueOnce([pending()]).mockResolvedValueOnce([adopted()]);
      await desk.showDay('2025-05-14');
      await desk.select(desk.bookings[0]);
      await desk.reloadAgenda();
      expect(desk.selected?.sync).toBe('synced');
      await vi.waitFor(() => expect(desk.qr?.chargeId).toBe('chg-u'));
    });

    it('leaves a booking GHL holds as it is on screen when the day reloads', async () => {
      const desk = new Desk();
      api.listBookings.mockResolvedValue([booking('a', {})]);
      await desk.showDay('2025-05-14');
      const shown = { ...desk.bookings[0] };
      await desk.select(shown);
      await desk.reloadAgenda();
      expect(desk.selected).toBe(shown);
    });

    it('reads no QR for a charge cancelled before its link was made', async () => {
      const desk = new Desk();
      await desk.select(failed());
      await desk.select({ ...booking('c', { status: 'cancelled', paymentLink: null }), status: 'cancelled' });
      expect(api.chargeQr).not.toHaveBeenCalled();
      expect(desk.panelError).toBeNull();
      // A cancelled charge that had its link still reads it (the panel keeps its fresh status).
      await desk.select({ ...booking('l', { status: 'cancelled' }), status: 'cancelled' });
      expect(api.chargeQr).toHaveBeenCalledWith('chg-l');
    });
  });

  describe('what is still owed to GHL and MP', () => {
    it('is read when the panel opens a charge', async () => {
      const desk = new Desk();
      api.pendingEffects.mockResolvedValue([owed('ghl.tag', 2)]);
      await desk.select(booking('a', { status: 'paid' }));
      expect(api.pendingEffects).toHaveBeenCalledWith('chg-a');
      expect(desk.pending).toEqual([owed('ghl.tag', 2)]);
      expect(desk.pendingError).toBeNull();
    });

    it('is nothing, and not asked for, for a booking without a charge', async () => {
      const desk = new Desk();
      await desk.select(booking('none', null));
      expect(api.pendingEffects).not.toHaveBeenCalled();
      expect(desk.pending).toEqual([]);
    });

    it('is read again on every charge-updated for the charge on screen, and only for it', async () => {
      const desk = new Desk();
      api.listBookings.mockResolvedValue([booking('a', {}), booking('b', {})]);
      await desk.showDay('2025-05-14');
      await desk.select(desk.bookings[0]);
      expect(desk.pending).toEqual([]);

      api.pendingEffects.mockResolvedValue([owed('mp.close_link', 0, null), owed('ghl.confirm')]);
      desk.applyUpdate({ chargeId: 'chg-a', bookingId: 'a', status: 'paid' });
      await vi.waitFor(() => expect(desk.pending.map((p) => p.kind)).toEqual(['mp.close_link', 'ghl.confirm']));
      expect(api.pendingEffects).toHaveBeenCalledTimes(2);

      desk.applyUpdate({ chargeId: 'chg-b', bookingId: 'b', status: 'paid' });
      expect(api.pendingEffects).toHaveBeenCalledTimes(2);

      // Everything done: the list empties, so the panel hides the section.
      api.pendingEffects.mockResolvedValue([]);
      desk.applyUpdate({ chargeId: 'chg-a', bookingId: 'a', status: 'paid' });
      await vi.waitFor(() => expect(desk.pending).toEqual([]));
    });

    it('is read again after retry, check and cancel', async () => {
      const desk = new Desk();
      await desk.select(booking('d', { status: 'draft', paymentLink: null }));
      api.retryLink.mockResolvedValue(null);
      api.pendingEffects.mockResolvedValue([owed('mp.create_link', 3)]);
      await desk.retryLink();
      expect(desk.pending).toEqual([owed('mp.create_link', 3)]);

      await desk.select(booking('a', {}));
      api.checkPayment.mockResolvedValue(null);
      api.pendingEffects.mockResolvedValue([owed('ghl.note')]);
      await desk.checkPayment();
      expect(desk.pending).toEqual([owed('ghl.note')]);

      api.cancelBooking.mockResolvedValue({ ...booking('a', { status: 'paid' }), status: 'cancelled' });
      api.pendingEffects.mockResolvedValue([owed('mp.refund')]);
      expect(await desk.cancelSelected('full')).toBeNull();
      await vi.waitFor(() => expect(desk.pending).toEqual([owed('mp.refund')]));
      expect(api.pendingEffects).toHaveBeenLastCalledWith('chg-a');
    });

    it('keeps a failure to read it apart from the panel, and clears it on the next good read', async () => {
      const desk = new Desk();
      api.pendingEffects.mockRejectedValueOnce({ code: 'DB_UNAVAILABLE', message: 'database is locked' });
      await desk.select(booking('a', {}));
      expect(desk.pendingError).toEqual({ code: 'DB_UNAVAILABLE', message: 'database is locked' });
      expect(desk.panelError).toBeNull();
      expect(desk.qr?.chargeId).toBe('chg-a');

      api.pendingEffects.mockResolvedValue([owed('ghl.tag')]);
      desk.applyUpdate({ chargeId: 'chg-a', bookingId: 'a', status: 'open' });
      await vi.waitFor(() => expect(desk.pendingError).toBeNull());
      expect(desk.pending).toEqual([owed('ghl.tag')]);

      // A later failure keeps the last list read: it is still the best knowledge.
      api.pendingEffects.mockRejectedValueOnce({ code: 'INTERNAL', message: '' });
      desk.applyUpdate({ chargeId: 'chg-a', bookingId: 'a', status: 'open' });
      await vi.waitFor(() => expect(desk.pendingError?.code).toBe('INTERNAL'));
      expect(desk.pending).toEqual([owed('ghl.tag')]);
    });

    it('drops an answer for a charge no longer on screen, and forgets the list on close', async () => {
      const desk = new Desk();
      let answerFirst: (list: PendingEffect[]) => void = () => {};
      api.pendingEffects
        .mockImplementationOnce(() => new Promise((resolve) => (answerFirst = resolve)))
        .mockResolvedValueOnce([owed('ghl.note')]);
      const first = desk.select(booking('a', {}));
      await desk.select(booking('b', {}));
      answerFirst([owed('mp.refund')]);
      await first;
      expect(desk.selected?.id).toBe('b');
      expect(desk.pending).toEqual([owed('ghl.note')]);

      desk.close();
      expect(desk.pending).toEqual([]);
      expect(desk.pendingError).toBeNull();
    });
  });

  describe('"Devolver pago": a refund without cancelling', () => {
    const cancelledPaid = (status = 'paid') => ({ ...booking('k', { status }), status: 'cancelled' });
    beforeEach(() => api.chargeQr.mockImplementation(async (id: string) => qrFor(id, 'paid')));

    it('refunds the charge on screen and shows what Rust returned in the agenda and the panel', async () => {
      const desk = new Desk();
      api.listBookings.mockResolvedValue([cancelledPaid(), booking('b', { status: 'paid' })]);
      await desk.showDay('2025-05-14');
      await desk.select(desk.bookings[0]);
      api.refundCharge.mockResolvedValue(cancelledPaid('partially_refunded'));
      api.pendingEffects.mockClear();

      expect(await desk.refundSelected('30.00')).toBeNull();
      expect(api.refundCharge).toHaveBeenCalledWith('chg-k', '30.00');
      expect(api.cancelBooking).not.toHaveBeenCalled();
      expect(desk.bookings[0].charge?.status).toBe('partially_refunded');
      expect(desk.bookings[1].charge?.status).toBe('paid');
      expect(desk.selected?.charge?.status).toBe('partially_refunded');
      expect(desk.selected).toBe(desk.bookings[0]);
      expect(desk.qr?.status).toBe('partially_refunded');
      expect(desk.refundPending).toBeNull();
      expect(desk.refunding).toBe(false);
      await vi.waitFor(() => expect(api.pendingEffects).toHaveBeenCalledWith('chg-k'));
    });

    it('says so while MP has not confirmed the refund yet', async () => {
      const desk = new Desk();
      await desk.select(cancelledPaid());
      api.refundCharge.mockResolvedValue(cancelledPaid('paid'));
      api.pendingEffects.mockResolvedValue([owed('mp.refund', 1, 'Mercado Pago is unavailable: 503')]);

      expect(await desk.refundSelected('full')).toBeNull();
      expect(desk.refundPending).toBe('chg-k');
      await vi.waitFor(() => expect(desk.pending.map((p) => p.kind)).toEqual(['mp.refund']));
      desk.applyUpdate({ chargeId: 'chg-k', bookingId: 'k', status: 'refunded' });
      expect(desk.refundPending).toBeNull();
    });

    it('hands a refused amount back for the dialog to place, and changes nothing', async () => {
      const desk = new Desk();
      await desk.select(cancelledPaid());
      const refused = { code: 'VALIDATION', message: 'at most 50.00 can be refunded', details: { field: 'refund' } };
      api.refundCharge.mockRejectedValue(refused);
      api.chargeQr.mockClear();

      expect(await desk.refundSelected('60.00')).toEqual(refused);
      expect(desk.selected?.charge?.status).toBe('paid');
      expect(desk.refundPending).toBeNull();
      expect(desk.refunding).toBe(false);
      expect(api.chargeQr).not.toHaveBeenCalled();
    });

    it('re-reads the charge on a conflict, so the panel shows where it stands', async () => {
      const desk = new Desk();
      api.listBookings.mockResolvedValue([cancelledPaid('partially_refunded')]);
      await desk.showDay('2025-05-14');
      await desk.select({ ...desk.bookings[0], charge: { ...desk.bookings[0].charge! } });
      const conflict = {
        code: 'CONFLICT',
        message: 'a refund of payment 1001 was already requested; make further refunds in Mercado Pago',
      };
      api.refundCharge.mockRejectedValue(conflict);
      api.chargeQr.mockImplementation(async (id: string) => qrFor(id, 'refunded'));

      expect(await desk.refundSelected('full')).toEqual(conflict);
      expect(desk.selected?.charge?.status).toBe('refunded');
      expect(desk.bookings[0].charge?.status).toBe('refunded');
      expect(desk.panelError).toBeNull();
      expect(desk.refunding).toBe(false);
    });

    it('does nothing without a charge on screen', async () => {
      const desk = new Desk();
      expect(await desk.refundSelected('full')).toBeNull();
      await desk.select(booking('none', null));
      expect(await desk.refundSelected('full')).toBeNull();
      expect(api.refundCharge).not.toHaveBeenCalled();
    });
  });

  describe('effects-updated', () => {
    beforeEach(() => api.chargeQr.mockImplementation(async (id: string) => qrFor(id, 'paid')));

    it('re-reads what is owed for the charge on screen, and ignores other charges', async () => {
      const desk = new Desk();
      api.listBookings.mockResolvedValue([booking('a', { status: 'paid' }), booking('b', { status: 'paid' })]);
      await desk.showDay('2025-05-14');
      await desk.select(desk.bookings[0]);
      expect(api.pendingEffects).toHaveBeenCalledTimes(1);

      api.pendingEffects.mockResolvedValue([owed('ghl.tag', 1, 'GoHighLevel is unavailable: 500')]);
      desk.applyEffectsUpdate({ chargeId: 'chg-b' });
      expect(api.pendingEffects).toHaveBeenCalledTimes(1);
      expect(desk.pending).toEqual([]);

      desk.applyEffectsUpdate({ chargeId: 'chg-a' });
      await vi.waitFor(() => expect(desk.pending).toEqual([owed('ghl.tag', 1, 'GoHighLevel is unavailable: 500')]));
      expect(api.pendingEffects).toHaveBeenLastCalledWith('chg-a');
      // Nothing about the charge changed: no agenda reload, no QR read.
      expect(api.listBookings).toHaveBeenCalledTimes(1);
      expect(api.chargeQr).toHaveBeenCalledTimes(1);
      expect(desk.selected?.charge?.status).toBe('paid');
    });

    it('asks nothing when no charge is on screen', async () => {
      const desk = new Desk();
      desk.applyEffectsUpdate({ chargeId: 'chg-a' });
      await desk.select(booking('a', {}));
      desk.close();
      desk.applyEffectsUpdate({ chargeId: 'chg-a' });
      expect(api.pendingEffects).toHaveBeenCalledTimes(1);
    });

    it('is listened to from start, with charge-updated, and both stop together', async () => {
      const desk = new Desk();
      const stopCharge = vi.fn();
      const stopEffects = vi.fn();
      let effectsHandler: (update: { chargeId: string }) => void = () => {};
      api.onChargeUpdated.mockResolvedValue(stopCharge);
      api.onEffectsUpdated.mockImplementation(async (handler: typeof effectsHandler) => {
        effectsHandler = handler;
        return stopEffects;
      });
      api.appStatus.mockResolvedValue({ demo: true, clinicName: 'C', timezone: 'America/Lima', currency: 'PEN', listenerUrl: null });
      api.listCalendars.mockResolvedValue([]);
      api.listBookings.mockResolvedValue([booking('a', { status: 'paid' })]);

      const stop = await desk.start();
      await desk.select(desk.bookings[0]);
      api.pendingEffects.mockResolvedValue([owed('ghl.note')]);
      effectsHandler({ chargeId: 'chg-a' });
      await vi.waitFor(() => expect(desk.pending).toEqual([owed('ghl.note')]));

      stop();
      expect(stopCharge).toHaveBeenCalledTimes(1);
      expect(stopEffects).toHaveBeenCalledTimes(1);
    });

    it('starts anyway when the event cannot be listened to', async () => {
      const desk = new Desk();
      api.onChargeUpdated.mockResolvedValue(() => {});
      api.onEffectsUpdated.mockRejectedValue(new Error('event plugin missing'));
      api.appStatus.mockResolvedValue({ demo: false, clinicName: 'C', timezone: 'America/Lima', currency: 'PEN', listenerUrl: null });
      api.listCalendars.mockResolvedValue([]);
      api.listBookings.mockResolvedValue([]);
      const stop = await desk.start();
      expect(desk.status?.clinicName).toBe('C');
      expect(() => stop()).not.toThrow();
    });
  });
});

describe('Desk attendance', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    api.chargeQr.mockImplementation(async (id: string) => qrFor(id));
    api.pendingEffects.mockResolvedValue([]);
  });

  it('marks "Llegó" and shows the booking as Rust returned it, in the agenda and the panel', async () => {
    const desk = new Desk();
    api.listBookings.mockResolvedValue([booking('a', {}), booking('b', {})]);
    await desk.showDay('2025-05-14');
    await desk.select(desk.bookings[0]);
    api.markAttendance.mockResolvedValue({ ...booking('a', {}), status: 'showed' });

    const marking = desk.markAttendance('showed');
    expect(desk.marking).toBe('showed');
    await marking;
    expect(api.markAttendance).toHaveBeenCalledWith('a', 'showed');
    expect(desk.marking).toBeNull();
    expect(desk.selected?.status).toBe('showed');
    expect(desk.bookings.map((b) => b.status)).toEqual(['showed', 'confirmed']);
  });

  it('a refusal shows in the panel; a CONFLICT re-reads the day so the booking shows as it is now', async () => {
    const desk = new Desk();
    api.listBookings.mockResolvedValue([booking('a', {})]);
    await desk.showDay('2025-05-14');
    await desk.select(desk.bookings[0]);
    api.markAttendance.mockRejectedValue({ code: 'CONFLICT', message: 'the booking is cancelled' });
    api.listBookings.mockResolvedValue([{ ...booking('a', {}), status: 'cancelled' }]);

    await desk.markAttendance('noshow');
    expect(desk.panelError?.code).toBe('CONFLICT');
    expect(desk.selected?.status).toBe('cancelled');
    expect(desk.marking).toBeNull();
  });
});

describe('Desk reschedule and send link', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    api.chargeQr.mockImplementation(async (id: string) => qrFor(id));
    api.pendingEffects.mockResolvedValue([]);
  });

  const slot = { startsAt: '2025-05-15T20:00:00.000Z', endsAt: '2025-05-15T20:30:00.000Z', localStart: '15:00', localEnd: '15:30' };
  const moved = { ...booking('a', {}), startsAt: slot.startsAt, endsAt: slot.endsAt, localDate: '2025-05-15', localStart: '15:00', localEnd: '15:30' };

  it('moves the booking on screen to another day: the agenda shows that day, the panel the new time, the charge as it was', async () => {
    const desk = new Desk();
    api.listBookings.mockResolvedValueOnce([booking('a', {}), booking('b', {})]);
    await desk.showDay('2025-05-14');
    await desk.select(desk.bookings[0]);
    api.rescheduleBooking.mockResolvedValue(moved);
    api.listBookings.mockResolvedValue([moved]);

    expect(await desk.rescheduleSelected(slot)).toBeNull();
    expect(api.rescheduleBooking).toHaveBeenCalledWith('a', slot.startsAt, slot.endsAt);
    expect(api.listBookings).toHaveBeenLastCalledWith('2025-05-15');
    expect(desk.day).toBe('2025-05-15');
    expect(desk.selected?.localStart).toBe('15:00');
    expect(desk.selected?.charge?.status).toBe('open');
    expect(desk.rescheduled).toBe('a');
    expect(desk.rescheduling).toBe(false);
  });

  it('answers SLOT_TAKEN to the dialog and re-reads the day after CONFLICT', async () => {
    const desk = new Desk();
    api.listBookings.mockResolvedValue([booking('a', {})]);
    await desk.showDay('2025-05-14');
    await desk.select(desk.bookings[0]);
    api.rescheduleBooking.mockRejectedValueOnce({ code: 'SLOT_TAKEN', message: 'taken' });
    expect((await desk.rescheduleSelected(slot))?.code).toBe('SLOT_TAKEN');
    expect(api.listBookings).toHaveBeenCalledTimes(1);
    expect(desk.selected?.localStart).toBe('09:00');

    api.rescheduleBooking.mockRejectedValueOnce({ code: 'CONFLICT', message: 'the booking is cancelled' });
    api.listBookings.mockResolvedValue([{ ...booking('a', {}), status: 'cancelled' }]);
    expect((await desk.rescheduleSelected(slot))?.code).toBe('CONFLICT');
    expect(desk.selected?.status).toBe('cancelled');
    expect(desk.rescheduled).toBeNull();
  });

  it('sends the link and says by which channel; a refusal is kept for the panel; another booking clears both', async () => {
    const desk = new Desk();
    api.listBookings.mockResolvedValue([booking('a', {}), booking('b', {})]);
    await desk.showDay('2025-05-14');
    await desk.select(desk.bookings[0]);
    api.sendPaymentLink.mockResolvedValueOnce({ sent: true, channel: 'whatsapp' });
    const sending = desk.sendLink('whatsapp');
    expect(desk.sending).toBe('whatsapp');
    await sending;
    expect(api.sendPaymentLink).toHaveBeenCalledWith('a', 'whatsapp');
    expect(desk.sentVia).toBe('whatsapp');

    api.sendPaymentLink.mockRejectedValueOnce({ code: 'VALIDATION', message: 'no phone', details: { field: 'phone' } });
    await desk.sendLink('sms');
    expect(desk.sentVia).toBeNull();
    expect(desk.sendError).toEqual({ code: 'VALIDATION', message: 'no phone', details: { field: 'phone' } });

    await desk.select(desk.bookings[1]);
    expect(desk.sendError).toBeNull();
  });

  it('a CONFLICT on send re-reads the charge so the panel shows what it is now', async () => {
    const desk = new Desk();
    api.listBookings.mockResolvedValue([booking('a', {})]);
    await desk.showDay('2025-05-14');
    await desk.select(desk.bookings[0]);
    api.chargeQr.mockImplementation(async (id: string) => qrFor(id, 'paid'));
    api.sendPaymentLink.mockRejectedValueOnce({ code: 'CONFLICT', message: 'charge is paid' });
    await desk.sendLink('email');
    expect(desk.sendError?.code).toBe('CONFLICT');
    expect(desk.selected?.charge?.status).toBe('paid');
  });

  it('"Abrir WhatsApp" opens the wa.me link and sends nothing', async () => {
    const desk = new Desk();
    const opened: string[] = [];
    desk.openUrl = (url) => void opened.push(url);
    api.listBookings.mockResolvedValue([booking('a', {})]);
    await desk.showDay('2025-05-14');
    await desk.select(desk.bookings[0]);
    api.whatsappLink.mockResolvedValue({ url: 'https://wa.me/51987111222?text=Hola' });
    await desk.openWhatsApp();
    expect(opened).toEqual(['https://wa.me/51987111222?text=Hola']);
    expect(api.sendPaymentLink).not.toHaveBeenCalled();
    expect(desk.sendError).toBeNull();
  });
});
