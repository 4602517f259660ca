// The desk's shared state: clinic status, calendars, the agenda of the chosen day and
// the charge on screen with what is still owed to the providers for it, kept current by
// the `charge-updated` event (a booking still pending with GHL is re-read then: the event is
// how the reconciler's verdict arrives) and `effects-updated` (a provider try failed, nothing
// else changed). Components read it and call its methods; only this module, the booking form
// (with its patient picker) and the reschedule dialog (for free times) talk to `api`.

import {
  api,
  type ApiError,
  type AppStatus,
  type Attendance,
  type BookingView,
  type Calendar,
  type ChargeQr,
  type ChargeUpdated,
  type EffectsUpdated,
  type FreeSlot,
  type PendingEffect,
  type SendChannel,
} from './api';
import { refundAwaited } from './cancel';
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
  cancelling = $state(false);
  refunding = $state(false);
  checking = $state(false);
  /** The attendance being written to GHL for the booking on screen. */
  marking = $state<Attendance | null>(null);
  /** The charge "Verificar pago" last asked MP about, to say when MP had nothing new. */
  checkedCharge = $state<string | null>(null);
  /** A charge whose refund was asked for but not yet confirmed by MP (the outbox retries it). */
  refundPending = $state<string | null>(null);
  /** What is still owed to GHL and MP for the charge on screen (empty: nothing). */
  pending = $state<PendingEffect[]>([]);
  /** Why the owed list could not be read; shown quietly, the panel works without it. */
  pendingError = $state<ApiError | null>(null);
  rescheduling = $state(false);
  /** The booking just moved, to say so in the panel. */
  rescheduled = $state<string | null>(null);
  /** The channel the link is being sent by. */
  sending = $state<SendChannel | null>(null);
  /** "Abrir WhatsApp" is asking for its `wa.me` link. */
  opening = $state(false);
  /** The channel the link of the booking on screen last went out by. */
  sentVia = $state<SendChannel | null>(null);
  /** Why the last send (or "Abrir WhatsApp") was refused; shown with the action to take. */
  sendError = $state<ApiError | null>(null);
  /**
   * Opens a URL outside the app. For now the browser's `window.open`; Tauri's opener plugin is
   * to be registered in the shell and used here instead.
   */
  openUrl: (url: string) => void = (url) => void window.open(url, '_blank', 'noopener');

  private agendaRequest = 0;
  private qrRequest = 0;
  private pendingRequest = 0;

  /** Clinic's today; the machine's until `app_status` has answered. */
  today(): string {
    return todayIn(this.status?.timezone);
  }

  /** Loads status and calendars, shows today's agenda and starts listening for charge and effects updates. */
  async start(): Promise<() => void> {
    const none = () => () => {};
    const listening = await Promise.all([
      api.onChargeUpdated((update) => this.applyUpdate(update)).catch(none),
      api.onEffectsUpdated((update) => this.applyEffectsUpdate(update)).catch(none),
    ]);
    const unlisten = () => listening.forEach((stop) => stop());
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
      this.refreshAwaitingGhl();
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
    this.checkedCharge = null;
    this.pending = [];
    this.pendingError = null;
    this.clearOutcomes();
    await Promise.all([this.loadQr(), this.loadPending()]);
  }

  /** Closes the charge panel. */
  close(): void {
    this.qrRequest++;
    this.pendingRequest++;
    this.pending = [];
    this.pendingError = null;
    this.selected = null;
    this.qr = null;
    this.panelError = null;
    this.qrLoading = false;
    this.checkedCharge = null;
    this.clearOutcomes();
  }

  /** What the panel said about the last reschedule or send belongs to the booking it was for. */
  private clearOutcomes(): void {
    this.rescheduled = null;
    this.sentVia = null;
    this.sendError = null;
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
    await this.loadPending();
  }

  /**
   * Cancels the booking on screen. `refund` is null for an unpaid booking, else staff's
   * decision ("none", "full", "25.00"). Resolves to null once cancelled (the agenda and the
   * panel then show the booking as Rust returned it), or to the error for the dialog to place.
   */
  async cancelSelected(refund: string | null): Promise<ApiError | null> {
    const booking = this.selected;
    if (!booking || this.cancelling) return null;
    this.cancelling = true;
    try {
      const view = await api.cancelBooking(booking.id, refund);
      // MP had not answered yet: the outbox retries, and `charge-updated` brings the result.
      this.refundPending = refundAwaited(refund, view.charge) ? (view.charge?.id ?? null) : null;
      this.replaceBooking(view);
      return null;
    } catch (raw) {
      const error = toApiError(raw);
      // Refused for want of a refund decision: the charge was paid meanwhile; show it so.
      if (refund === null && error.details?.field === 'refund') await this.loadQr();
      return error;
    } finally {
      this.cancelling = false;
      // Cancelling may owe MP an expired link or a refund; the dialog need not wait for it.
      void this.loadPending();
    }
  }

  /**
   * "Devolver pago": refunds the charge on screen without cancelling anything. `refund` is
   * "full" or an amount ("25.00"). Resolves to null once asked (the agenda and the panel then
   * show the booking as Rust returned it), or to the error for the dialog to place.
   */
  async refundSelected(refund: string): Promise<ApiError | null> {
    const chargeId = this.selected?.charge?.id;
    if (!chargeId || this.refunding) return null;
    this.refunding = true;
    try {
      const view = await api.refundCharge(chargeId, refund);
      this.refundPending = refundAwaited(refund, view.charge) ? chargeId : null;
      this.replaceBooking(view);
      return null;
    } catch (raw) {
      const error = toApiError(raw);
      // The charge moved on meanwhile (refunded elsewhere, nothing left): show what it is now.
      if (error.code === 'CONFLICT') await this.rereadCharge(chargeId);
      return error;
    } finally {
      this.refunding = false;
      // A refund MP did not answer yet stays owed; the dialog need not wait for the list.
      void this.loadPending();
    }
  }

  /**
   * "Llegó" / "No asistió" for the booking on screen, written to GHL; the agenda and the panel
   * then show the booking as Rust returned it. A refusal shows in the panel; a CONFLICT (the
   * booking changed meanwhile: cancelled, say) re-reads the day so it shows as it now is.
   */
  async markAttendance(attendance: Attendance): Promise<void> {
    const booking = this.selected;
    if (!booking || this.marking) return;
    this.marking = attendance;
    this.panelError = null;
    try {
      this.replaceBooking(await api.markAttendance(booking.id, attendance));
    } catch (raw) {
      const error = toApiError(raw);
      this.panelError = error;
      if (error.code === 'CONFLICT') await this.reloadAgendaKeepingSelected();
    } finally {
      this.marking = null;
    }
  }

  /**
   * "Reprogramar": moves the booking on screen to `slot`. Its charge is not touched (the engine
   * answers it as it was). The agenda shows the booking's new day, the panel its new time.
   * Resolves to null once moved, or to the error for the dialog to show (it re-reads its slots
   * after SLOT_TAKEN; after CONFLICT the day is re-read here, as the booking changed meanwhile).
   */
  async rescheduleSelected(slot: FreeSlot): Promise<ApiError | null> {
    const booking = this.selected;
    if (!booking || this.rescheduling) return null;
    this.rescheduling = true;
    this.rescheduled = null;
    try {
      const view = await api.rescheduleBooking(booking.id, slot.startsAt, slot.endsAt);
      if (this.selected?.id === view.id) this.selected = view;
      if (view.localDate === this.day) {
        this.replaceBooking(view);
        this.bookings = [...this.bookings].sort(byStart);
      }
      await this.showDayKeepingSelected(view.localDate);
      this.rescheduled = view.id;
      return null;
    } catch (raw) {
      const error = toApiError(raw);
      if (error.code === 'CONFLICT') await this.reloadAgendaKeepingSelected();
      return error;
    } finally {
      this.rescheduling = false;
    }
  }

  /** Shows `day`; the booking on screen takes its fresh row if it is there. */
  private async showDayKeepingSelected(day: string): Promise<void> {
    this.day = day;
    await this.reloadAgendaKeepingSelected();
  }

  /**
   * "Enviar link" by `channel` through GHL conversations. The panel then says it went, or why
   * not with what to do; a CONFLICT (the charge is no longer open) re-reads the charge.
   */
  async sendLink(channel: SendChannel): Promise<void> {
    const booking = this.selected;
    if (!booking || this.sending || this.opening) return;
    this.sending = channel;
    this.sentVia = null;
    this.sendError = null;
    try {
      await api.sendPaymentLink(booking.id, channel);
      if (this.selected?.id === booking.id) this.sentVia = channel;
    } catch (raw) {
      const error = toApiError(raw);
      if (this.selected?.id === booking.id) this.sendError = error;
      const chargeId = booking.charge?.id;
      if (error.code === 'CONFLICT' && chargeId) await this.rereadCharge(chargeId);
    } finally {
      this.sending = null;
    }
  }

  /** "Abrir WhatsApp": asks for the `wa.me` link with the prefilled message and opens it; sends nothing. */
  async openWhatsApp(): Promise<void> {
    const booking = this.selected;
    if (!booking || this.sending || this.opening) return;
    this.opening = true;
    this.sentVia = null;
    this.sendError = null;
    try {
      const { url } = await api.whatsappLink(booking.id);
      if (this.selected?.id === booking.id) this.openUrl(url);
    } catch (raw) {
      if (this.selected?.id === booking.id) this.sendError = toApiError(raw);
    } finally {
      this.opening = false;
    }
  }

  /** Re-reads the day; the booking on screen takes its fresh row. */
  private async reloadAgendaKeepingSelected(): Promise<void> {
    await this.reloadAgenda();
    const shown = this.selected;
    const fresh = shown && this.bookings.find((b) => b.id === shown.id);
    if (fresh) this.selected = fresh;
  }

  /** "Verificar pago": asks MP about the charge on screen now, then shows what it said. */
  async checkPayment(): Promise<void> {
    const chargeId = this.selected?.charge?.id;
    if (!chargeId || this.checking) return;
    this.checking = true;
    this.checkedCharge = null;
    this.panelError = null;
    try {
      await api.checkPayment(chargeId);
      // The event may come before or after this answer; the QR read is the fresh status either way.
      await this.rereadCharge(chargeId);
      if (this.selected?.charge?.id === chargeId) this.checkedCharge = chargeId;
    } catch (error) {
      this.panelError = toApiError(error);
    } finally {
      this.checking = false;
    }
    await this.loadPending();
  }

  /** Applies a `charge-updated` event to the agenda and the panel. */
  applyUpdate(update: ChargeUpdated): void {
    const shown = this.selected?.charge;
    const wasWithoutLink = !!shown && shown.id === update.chargeId && !this.qr;
    // The reconciler settled a booking GHL had not confirmed: only a fresh read says how.
    const settling = this.awaitingGhl(update.chargeId);
    const seen = this.setChargeStatus(update.chargeId, update.status);
    if (this.refundPending === update.chargeId && update.status !== 'paid') this.refundPending = null;
    // A draft charge got its link: now there is a QR to show.
    if (wasWithoutLink && update.status === 'open') void this.loadQr();
    // What is owed changes with the charge (a payment owes GHL its confirmation, a cancel a refund).
    if (shown && shown.id === update.chargeId) void this.loadPending();
    // Another desk (or a webhook) touched a booking we do not have: refresh the day.
    if (!seen || settling) void this.reloadAgenda();
  }

  /** Applies an `effects-updated` event: the charge on screen re-reads what is owed; others are not shown. */
  applyEffectsUpdate(update: EffectsUpdated): void {
    if (this.selected?.charge?.id === update.chargeId) void this.loadPending();
  }

  /** Reads the charge on screen again (its QR answer carries the stored status) and shows it everywhere. */
  private async rereadCharge(chargeId: string): Promise<void> {
    await this.loadQr();
    if (this.qr?.chargeId === chargeId) this.setChargeStatus(chargeId, this.qr.status);
  }

  /** Whether the booking of `chargeId`, in the agenda or the panel, is still pending with GHL. */
  private awaitingGhl(chargeId: string): boolean {
    return [...this.bookings, this.selected].some((b) => b?.charge?.id === chargeId && b.sync === 'pending');
  }

  /** A booking on screen that was pending with GHL takes its freshly read row: adopted or failed. */
  private refreshAwaitingGhl(): void {
    const shown = this.selected;
    if (shown?.sync !== 'pending') return;
    const fresh = this.bookings.find((b) => b.id === shown.id);
    if (!fresh) return;
    this.selected = fresh;
    // Adopted: its link may be there now, even if no event said so (a second read wins harmlessly).
    if (fresh.sync !== 'pending' && !this.qr) void this.loadQr();
  }

  /** Sets a charge's status wherever it is shown; false when it is not shown at all. */
  private setChargeStatus(chargeId: string, status: string): boolean {
    let seen = false;
    for (const booking of this.bookings) {
      if (booking.charge?.id === chargeId) {
        booking.charge.status = status;
        seen = true;
      }
    }
    const shown = this.selected?.charge;
    if (shown && shown.id === chargeId) {
      shown.status = status;
      if (this.qr) this.qr.status = status;
      if (status === 'paid' && !shown.paidAt) shown.paidAt = new Date().toISOString();
      seen = true;
    }
    return seen;
  }

  /** Puts a booking as Rust returned it into the agenda and, if it is on screen, the panel. */
  private replaceBooking(view: BookingView): void {
    this.bookings = this.bookings.map((b) => (b.id === view.id ? view : b));
    if (this.selected?.id !== view.id) return;
    // The agenda's row and the panel share one object, as when picked from the agenda.
    this.selected = this.bookings.find((b) => b.id === view.id) ?? view;
    if (this.qr && view.charge?.id === this.qr.chargeId) this.qr.status = view.charge.status;
  }

  /** Reads what is still owed for the charge on screen; an answer for another charge is dropped. */
  async loadPending(): Promise<void> {
    const chargeId = this.selected?.charge?.id;
    const request = ++this.pendingRequest;
    if (!chargeId) {
      this.pending = [];
      this.pendingError = null;
      return;
    }
    try {
      const list = await api.pendingEffects(chargeId);
      if (request !== this.pendingRequest) return;
      this.pending = list;
      this.pendingError = null;
    } catch (error) {
      if (request !== this.pendingRequest) return;
      // The last list read stays: it is still the best knowledge of what is owed.
      this.pendingError = toApiError(error);
    }
  }

  private async loadQr(): Promise<void> {
    const charge = this.selected?.charge;
    const request = ++this.qrRequest;
    // No link, no QR: a draft charge has none yet, and one cancelled or expired before its link
    // was made (GHL never made the booking, or it was cancelled first) never will.
    const linkless = !charge?.paymentLink && (charge?.status === 'cancelled' || charge?.status === 'expired');
    if (!charge || charge.status === 'draft' || linkless) {
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
