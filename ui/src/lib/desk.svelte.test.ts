import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { BookingView, ChargeView } from './api';

const api = vi.hoisted(() => ({
  appStatus: vi.fn(),
  listCalendars: vi.fn(),
  listBookings: vi.fn(),
  createBooking: vi.fn(),
  chargeQr: vi.fn(),
  simulatePayment: vi.fn(),
  onChargeUpdated: vi.fn(),
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

describe('Desk', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    api.chargeQr.mockImplementation(async (id: string) => qrFor(id));
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
});
