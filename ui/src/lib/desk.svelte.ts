// The desk's shared state: clinic status, calendars, the agenda of the chosen day and
// the charge on screen, kept current by the `charge-updated` event. Components read
// it and call its methods; only this module and the booking form talk to `api`.

import { api, type ApiError, type AppStatus, type BookingView, type Calendar, type ChargeQr, type ChargeUpdated } from './api';
import { toApiError } from './errors';
import { todayIn } from './time';

// The QR arrives as an SVG document; its XML prolog means nothing inside HTML.
function svgMarkup(svg: string): string {
  return svg.replace(/^\s*<\?xml[^>]*\?>\s*/i, '').replace(/^\s*<!DOCTYPE[^>]*>\s*/i, '');
}

function byStart(a: BookingView, b: BookingView): number {
  return a.startsAt.localeCompare(b.startsAt) || a.localStart.localeCompare(b.localStart);
}

export class Desk {
  status = $state<AppStatus | null>(null);
  bootError = $state<ApiError | null>(null);
  calendars = $state<Calendar[]>([]);
  calendarsError = $state<ApiError | null>(null);

  day = $state('');
  bookings = $state<BookingView[]>([]);
  agendaLoading = $state(false);
  agendaError = $state<ApiError | null>(null);

  selected = $state<BookingView | null>(null);
  qr = $state<ChargeQr | null>(null);
  qrLoading = $state(false);
  panelError = $state<ApiError | null>(null);
  simulating = $state(false);
  retrying = $state(false);

  private agendaRequest = 0;
  private qrRequest = 0;

  /** Clinic's today; the machine's until `app_status` has answered. */
  today(): string {
    return todayIn(this.status?.timezone);
  }

  /** Loads status and calendars, shows today's agenda and starts listening for charge updates. */
  async start(): Promise<() => void> {
    const unlisten = await api
      .onChargeUpdated((update) => this.applyUpdate(update))
      .catch(() => () => {});
    try {
      this.status = await api.appStatus();
    } catch (error) {
      this.bootError = toApiError(error);
    }
    const calendars = api.listCalendars().then(
      (list) => (this.calendars = list),
      (error) => (this.calendarsError = toApiError(error)),
    );
    await Promise.all([calendars, this.showDay(this.today())]);
    return unlisten;
  }

  /** Shows the agenda of `day` ("YYYY-MM-DD"). */
  async showDay(day: string): Promise<void> {
    this.day = day;
    await this.reloadAgenda();
  }

  /** Reloads the shown day; an answer for a day no longer shown is dropped. */
  async reloadAgenda(): Promise<void> {
    const request = ++this.agendaRequest;
    const day = this.day;
    this.agendaLoading = true;
    try {
      const list = await api.listBookings(day);
      if (request !== this.agendaRequest) return;
      this.bookings = [...list].sort(byStart);
      this.agendaError = null;
    } catch (error) {
      if (request !== this.agendaRequest) return;
      this.agendaError = toApiError(error);
    } finally {
      if (request === this.agendaRequest) this.agendaLoading = false;
    }
  }

  /** Opens the charge panel for `booking`. */
  async select(booking: BookingView): Promise<void> {
    this.selected = booking;
    this.qr = null;
    this.panelError = null;
    await this.loadQr();
  }

  /** Closes the charge panel. */
  close(): void {
    this.qrRequest++;
    this.selected = null;
    this.qr = null;
    this.panelError = null;
    this.qrLoading = false;
  }

  /** A booking was just created: show its day and its charge. */
  async created(booking: BookingView): Promise<void> {
    const select = this.select(booking);
    if (booking.localDate === this.day) {
      this.bookings = [...this.bookings.filter((b) => b.id !== booking.id), booking].sort(byStart);
      await Promise.all([select, this.reloadAgenda()]);
    } else {
      await Promise.all([select, this.showDay(booking.localDate)]);
    }
  }

  /** Asks the sandbox to pay the charge on screen (demo mode only). */
  async simulatePayment(): Promise<void> {
    const chargeId = this.selected?.charge?.id;
    if (!chargeId || !this.status?.demo) return;
    this.simulating = true;
    this.panelError = null;
    try {
      await api.simulatePayment(chargeId);
    } catch (error) {
      this.panelError = toApiError(error);
    } finally {
      this.simulating = false;
    }
  }

  /** Asks for the payment link of a draft charge now instead of waiting for the retry. */
  async retryLink(): Promise<void> {
    const chargeId = this.selected?.charge?.id;
    if (!chargeId) return;
    this.retrying = true;
    this.panelError = null;
    try {
      await api.retryLink(chargeId);
    } catch (error) {
      this.panelError = toApiError(error);
    } finally {
      this.retrying = false;
    }
  }

  /** Applies a `charge-updated` event to the agenda and the panel. */
  applyUpdate(update: ChargeUpdated): void {
    let seen = false;
    for (const booking of this.bookings) {
      if (booking.charge?.id === update.chargeId) {
        booking.charge.status = update.status;
        seen = true;
      }
    }
    const shown = this.selected?.charge;
    if (shown && shown.id === update.chargeId) {
      const wasWithoutLink = !this.qr;
      shown.status = update.status;
      if (this.qr) this.qr.status = update.status;
      if (update.status === 'paid' && !shown.paidAt) shown.paidAt = new Date().toISOString();
      // A draft charge got its link: now there is a QR to show.
      if (wasWithoutLink && update.status === 'open') void this.loadQr();
      seen = true;
    }
    // Another desk (or a webhook) touched a booking we do not have: refresh the day.
    if (!seen) void this.reloadAgenda();
  }

  private async loadQr(): Promise<void> {
    const charge = this.selected?.charge;
    const request = ++this.qrRequest;
    if (!charge || charge.status === 'draft') {
      this.qrLoading = false;
      return;
    }
    this.qrLoading = true;
    try {
      const qr = await api.chargeQr(charge.id);
      if (request !== this.qrRequest) return;
      this.qr = { ...qr, svg: svgMarkup(qr.svg) };
      // The QR answer is fresher than the agenda row the panel was opened from.
      if (qr.status && this.selected?.charge) this.selected.charge.status = qr.status;
    } catch (error) {
      if (request !== this.qrRequest) return;
      this.panelError = toApiError(error);
    } finally {
      if (request === this.qrRequest) this.qrLoading = false;
    }
  }
}

export const desk = new Desk();
