// A small, stateful stand-in for the Rust commands, installed with Tauri's IPC mocks.
// Used by the Playwright tests (injected before the app loads) and by `npm run dev`
// in a plain browser. Never part of dist/: production code does not import it.

import { mockIPC, mockWindows } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import type {
  ApiError,
  AppStatus,
  BookingSync,
  BookingView,
  Calendar,
  ChargeQr,
  ChargeUpdated,
  ChargeView,
  CreateBookingRequest,
  CreatedPatient,
  EffectsUpdated,
  FreeSlot,
  Patient,
  PendingEffect,
} from '../../src/lib/api';

/** What a test can steer and inspect through `window.__mostradorFake`. */
export type FakeControl = {
  /** Every command call, in order, with its arguments. */
  calls: { cmd: string; args: unknown }[];
  /** The next call to `cmd` rejects with `error` instead of running. */
  failNext(cmd: string, error: ApiError): void;
  /** Emits `charge-updated` as the shell would. */
  emitChargeUpdated(update: ChargeUpdated): Promise<void>;
  /** Emits `effects-updated` as the shell does after a side effect's failed try (no status change). */
  emitEffectsUpdated(update: EffectsUpdated): Promise<void>;
  /** The fake's bookings, for assertions. */
  bookings(): BookingView[];
  /** The patient pays but MP's webhook never comes: only `check_payment` finds the payment. */
  payWithoutWebhook(chargeId: string): void;
  /** Changes a charge's status without telling the UI (its event was lost on the way). */
  setStatusSilently(chargeId: string, status: string): void;
  /**
   * The outbox now owes `effect` for the charge (as after a failed provider call). Silent, as
   * a worker's failed retry is: the UI sees it on its next read (open, event, action).
   * `nextAttemptAt` defaults to five minutes from now.
   */
  owe(chargeId: string, effect: Partial<PendingEffect> & { kind: string }): void;
  /** Everything owed for the charge was done (silently too). */
  settle(chargeId: string): void;
  /** What is owed for the charge, for assertions. */
  owedFor(chargeId: string): PendingEffect[];
  /**
   * The next `create_booking` gets no answer from GHL, which then cannot be asked either: the
   * booking is stored `pending` with its draft charge and the call rejects with
   * PROVIDER_UNAVAILABLE; the same idempotency key later returns that booking (Desk::create_booking).
   */
  leaveNextCreatePending(): void;
  /**
   * The reconciler settles a booking pending with GHL: `adopted` (GHL made it: synced, its link
   * opened) or `failed` (GHL holds none: its charge cancelled), then emits `charge-updated`.
   */
  reconcile(bookingId: string, outcome: 'adopted' | 'failed'): Promise<void>;
  /**
   * The patient pays a paid charge a second time (a second approval at MP): the charge turns
   * `needs_review`, as `charge_status::derive` says, and `charge-updated` is emitted.
   */
  approveAgain(chargeId: string): Promise<void>;
  /** Another desk books a time silently (the picker on screen still offers it). */
  bookElsewhere(calendarId: string, date: string, start: string, end: string, patientName: string): void;
  /** The calendar has no free time on `day` (closed, or fully booked in GHL). */
  closeDay(calendarId: string, day: string): void;
  /** The fake's GHL contacts, for assertions. */
  patients(): Patient[];
  /** The payment links sent through GHL conversations (`send_payment_link`), in order. */
  messages(): SentMessage[];
};

/** A message the fake's GHL sent: the booking's link, by a channel, to the contact's phone or email. */
export type SentMessage = { bookingId: string; channel: string; to: string };

declare global {
  interface Window {
    __mostradorFake?: FakeControl;
  }
}

const TZ = 'America/Lima'; // UTC−5 all year: simple offset arithmetic is exact here.
const OFFSET = '-05:00';
const MAX_AMOUNT = 5000;
/** Opening hours of the fake's calendars ("HH:MM", end excluded). */
const OPEN_HOURS: Record<string, [string, string]> = { 'cal-rojas': ['08:00', '20:00'], 'cal-paredes': ['08:00', '18:00'] };
/** Charge statuses that hold the patient's money (the engine's rule in desk::cancel). */
const HOLDS_MONEY = ['paid', 'partially_refunded', 'needs_review'];

function todayInLima(): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
}

function utc(date: string, time: string): string {
  return new Date(`${date}T${time}:00${OFFSET}`).toISOString();
}

/** An approved MP payment; `refunded` as MP's `transaction_amount_refunded`, in cents. */
type FakePayment = { id: number; cents: number; refunded: number };

function fail(code: string, message: string, field?: string): never {
  throw field ? { code, message, details: { field } } : { code, message };
}

/** A deterministic QR-looking SVG (not a real code), shaped like the qrcode crate's output. */
function fakeQrSvg(text: string): string {
  const n = 25;
  let seed = 0;
  for (const ch of text) seed = (seed * 31 + ch.charCodeAt(0)) >>> 0;
  const cells: string[] = [];
  const finder = (x: number, y: number) => {
    const dx = x < 7 ? x : x >= n - 7 ? x - (n - 7) : -1;
    const dy = y < 7 ? y : y >= n - 7 ? y - (n - 7) : -1;
    if (dx < 0 || dy < 0 || (x >= n - 7 && y >= n - 7)) return null;
    const ring = Math.min(dx, dy, 6 - dx, 6 - dy);
    return ring !== 1;
  };
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const f = finder(x, y);
      if (f ?? (seed >>> 16) % 2 === 0) cells.push(`M${x + 4} ${y + 4}h1v1h-1z`);
    }
  }
  const size = n + 8;
  return `<?xml version="1.0" standalone="yes"?><svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${size * 8}" height="${size * 8}" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges"><path fill="#fff" d="M0 0h${size}v${size}H0z"/><path fill="#000" d="${cells.join('')}"/></svg>`;
}

/** Installs the fake. `demo` and the seed can be varied by tests. */
export function installFake(options: { demo?: boolean; latencyMs?: number } = {}): FakeControl {
  const latency = options.latencyMs ?? 120;
  const status: AppStatus = {
    demo: options.demo ?? true,
    clinicName: 'Clínica San Isidro',
    timezone: TZ,
    currency: 'PEN',
    listenerUrl: null,
  };
  const calendars: Calendar[] = [
    { id: 'cal-rojas', name: 'Dra. Rojas — Medicina general', slotMinutes: 30 },
    { id: 'cal-paredes', name: 'Dr. Paredes — Pediatría', slotMinutes: 30 },
  ];
  const bookings: BookingView[] = [];
  const byKey = new Map<string, BookingView>();
  const failures = new Map<string, ApiError>();
  const calls: FakeControl['calls'] = [];
  /** MP's approved payments per charge (amounts in cents), made when a charge is first seen holding money. */
  const payments = new Map<string, FakePayment[]>();
  /** The refund asked through Mostrador per MP payment id (its outbox key): null for all that was left. */
  const refundAsked = new Map<number, number | null>();
  let paymentSerial = 1000;
  /** Charges paid at "MP" whose webhook never arrived. */
  const unannounced = new Set<string>();
  /** What the outbox still owes the providers, per charge. */
  const owed = new Map<string, PendingEffect[]>();
  let serial = 0;
  let nextCreatePending = false;
  /** GHL's contacts; ids shaped like GHL's (20 characters). */
  const patients: Patient[] = [
    { contactId: 'CntMariaQuispe000001', name: 'María Quispe', phone: '+51987111222', email: 'maria.quispe@example.com' },
    { contactId: 'CntAnaTorres00000001', name: 'Ana Torres', phone: '+51912345678', email: 'ana.torres@example.com' },
    { contactId: 'CntAnaLucia000000001', name: 'Ana Lucía Paredes', phone: null, email: 'analucia@example.com' },
    { contactId: 'CntLuisRojas00000001', name: 'Luis Rojas Chávez', phone: '+51955443322', email: 'luis.rojas@example.com' },
  ];
  /** Calendar days with no free time at all. */
  const closed = new Set<string>();
  /** How GHL reaches each booking's patient (its contact's phone and email); none when unknown. */
  const contactOf = new Map<string, { phone: string | null; email: string | null }>();
  const messages: SentMessage[] = [];

  function owe(chargeId: string, effect: Partial<PendingEffect> & { kind: string }): void {
    const list = owed.get(chargeId) ?? [];
    list.push({
      attempts: 0,
      lastError: null,
      nextAttemptAt: new Date(Date.now() + 5 * 60_000).toISOString(),
      ...effect,
    });
    owed.set(chargeId, list);
  }

  const linkOf = (chargeId: string) => `https://sandbox.mostrador.local/checkout/${chargeId}`;

  /** A charge; `linked` false for one whose link was never made (draft, or cancelled before it). */
  function charge(amount: string, status: string, linked = status !== 'draft'): ChargeView {
    const id = `chg-${++serial}`;
    return {
      id,
      amount,
      currency: 'PEN',
      status,
      paymentLink: linked ? linkOf(id) : null,
      paidAt: status === 'paid' ? new Date().toISOString() : null,
    };
  }

  /** Stores a booking; one GHL does not hold (`pending`, `failed`) has no GHL id and GHL's status yet. */
  function add(calendarId: string, patientName: string, date: string, start: string, end: string, ch: ChargeView | null,
    sync: BookingSync = 'synced'): BookingView {
    const calendar = calendars.find((c) => c.id === calendarId);
    const booking: BookingView = {
      id: `bkg-${++serial}`,
      ghlId: sync === 'synced' ? `ghl-${serial}` : null,
      calendarId,
      calendarName: calendar?.name ?? null,
      title: `Consulta — ${patientName}`,
      patientName,
      startsAt: utc(date, start),
      endsAt: utc(date, end),
      localDate: date,
      localStart: start,
      localEnd: end,
      status: sync === 'synced' ? 'confirmed' : 'new',
      sync,
      charge: ch,
    };
    bookings.push(booking);
    return booking;
  }

  const today = todayInLima();
  const maria = add('cal-rojas', 'María Quispe', today, '09:00', '09:30', charge('120.00', 'open'));
  contactOf.set(maria.id, { phone: patients[0].phone, email: patients[0].email });
  add('cal-paredes', 'Jorge Huamán', today, '10:00', '10:30', charge('80.00', 'paid'));
  const rosaCharge = charge('60.00', 'draft');
  add('cal-rojas', 'Rosa Mamani', today, '11:30', '12:00', rosaCharge);
  // A draft charge is one whose link MP has not made yet: the outbox owes it.
  owe(rosaCharge.id, { kind: 'mp.create_link', attempts: 2, lastError: 'Mercado Pago is unavailable: 503 Service Unavailable' });
  // GHL did not answer the create and could not be asked: the reconciler will settle it; no
  // link is asked for before, so nothing is owed.
  add('cal-paredes', 'Lucía Flores', today, '12:00', '12:30', charge('90.00', 'draft'), 'pending');
  // GHL refused the create (the slot was taken there): its charge was cancelled before any link.
  add('cal-rojas', 'Pedro Chávez', today, '13:00', '13:30', charge('70.00', 'cancelled', false), 'failed');

  function findCharge(chargeId: unknown): { booking: BookingView; charge: ChargeView } {
    for (const booking of bookings) {
      if (booking.charge && booking.charge.id === chargeId) return { booking, charge: booking.charge };
    }
    return fail('NOT_FOUND', `charge ${String(chargeId)} not found`);
  }

  function createBooking(request: CreateBookingRequest): BookingView {
    const previous = byKey.get(request.idempotencyKey);
    if (previous) {
      // Like the engine: a retried key of a booking GHL refused (its charge never offered)
      // tries that booking again; any other retry answers with the booking as it stands.
      const ch = previous.charge;
      if (previous.sync !== 'failed' || !ch || ch.paymentLink || ch.status !== 'cancelled') return previous;
      previous.sync = 'synced';
      previous.ghlId = `ghl-${++serial}`;
      ch.status = 'open';
      ch.paymentLink = linkOf(ch.id);
      return previous;
    }
    if (!calendars.some((c) => c.id === request.calendarId)) fail('VALIDATION', 'unknown calendar', 'calendarId');
    if (!request.patientName.trim()) fail('VALIDATION', 'patient name is required', 'patientName');
    // Desk::check: a contact GHL does not know is refused before anything is stored.
    if (request.contactId != null && !patients.some((p) => p.contactId === request.contactId)) {
      fail('VALIDATION', 'unknown contact', 'contactId');
    }
    if (request.endTime <= request.startTime) fail('VALIDATION', 'end must be after start', 'endTime');
    if (!/^\d+\.\d{2}$/.test(request.amount) || Number(request.amount) <= 0) fail('VALIDATION', 'bad amount', 'amount');
    if (Number(request.amount) > MAX_AMOUNT) fail('VALIDATION', `amount exceeds ${MAX_AMOUNT}.00`, 'amount');
    // A booking GHL never made, or one cancelled or deleted, holds no slot there.
    const clash = bookings.some(
      (b) => b.sync !== 'failed' && b.status !== 'cancelled' && b.status !== 'deleted' && b.calendarId === request.calendarId && b.localDate === request.date &&
        b.localStart < request.endTime && request.startTime < b.localEnd,
    );
    if (clash) fail('SLOT_TAKEN', 'The slot you have selected is no longer available.');
    const unanswered = nextCreatePending;
    nextCreatePending = false;
    const booking = add(request.calendarId, request.patientName, request.date, request.startTime, request.endTime,
      charge(request.amount, unanswered ? 'draft' : 'open'), unanswered ? 'pending' : 'synced');
    booking.title = request.description;
    byKey.set(request.idempotencyKey, booking);
    const contact = patients.find((p) => p.contactId === request.contactId);
    contactOf.set(booking.id, contact
      ? { phone: contact.phone, email: contact.email }
      : { phone: request.patientPhone?.trim() || null, email: null });
    if (unanswered) fail('PROVIDER_UNAVAILABLE', 'GoHighLevel is unavailable: no answer; the booking is checked again automatically');
    return booking;
  }

  /** Desk::reconcile's settle_uncertain: adopted (GHL id, status, then its link) or failed. */
  function reconcile(bookingId: string, outcome: 'adopted' | 'failed'): Promise<void> {
    const booking = bookings.find((b) => b.id === bookingId);
    if (!booking || booking.sync !== 'pending') return Promise.resolve();
    const ch = booking.charge;
    if (outcome === 'adopted') {
      booking.sync = 'synced';
      booking.ghlId = `ghl-${++serial}`;
      booking.status = 'confirmed';
      if (ch?.status === 'draft') {
        ch.status = 'open';
        ch.paymentLink = linkOf(ch.id);
      }
    } else {
      booking.sync = 'failed';
      if (ch?.status === 'draft') ch.status = 'cancelled';
    }
    return ch ? emitChargeUpdated({ chargeId: ch.id, bookingId: booking.id, status: ch.status }) : Promise.resolve();
  }

  function emitChargeUpdated(update: ChargeUpdated): Promise<void> {
    return emit('charge-updated', update);
  }

  function emitEffectsUpdated(update: EffectsUpdated): Promise<void> {
    return emit('effects-updated', update);
  }

  const cents = (amount: string) => Math.round(Number(amount) * 100);
  const text = (amountCents: number) => (amountCents / 100).toFixed(2);

  /**
   * MP's payments of a charge. However a charge came to hold money (seeded, simulated, set
   * silently), its first look here finds the one payment that paid it.
   */
  function paymentsOf(ch: ChargeView): FakePayment[] {
    const known = payments.get(ch.id);
    if (known) return known;
    if (!HOLDS_MONEY.includes(ch.status)) return [];
    const list = [{ id: ++paymentSerial, cents: cents(ch.amount), refunded: 0 }];
    payments.set(ch.id, list);
    return list;
  }

  /** charge_status::derive for the fake's payments (all matching the charge): two approvals need review. */
  function derived(ch: ChargeView): string {
    const list = paymentsOf(ch);
    const approved = list.filter((p) => p.refunded < p.cents);
    if (approved.length > 1) return 'needs_review';
    if (approved.length === 1) return approved[0].refunded > 0 ? 'partially_refunded' : 'paid';
    return list.length > 0 ? 'refunded' : ch.status;
  }

  /**
   * Desk::plan_refunds then check_not_asked_otherwise: which payments to refund and how much
   * (null: all that is left of it), refused before anything changes.
   */
  function planRefunds(ch: ChargeView, decision: 'full' | number): { payment: FakePayment; amount: number | null }[] {
    const refundable = paymentsOf(ch).filter((p) => p.refunded < p.cents);
    let planned: { payment: FakePayment; amount: number | null }[];
    if (decision === 'full') {
      if (refundable.length === 0) fail('CONFLICT', 'nothing left to refund on this charge');
      planned = refundable.map((payment) => ({ payment, amount: null }));
    } else {
      // The payment that matches the charge is the one a partial refund comes from.
      const from = refundable.find((p) => p.cents === cents(ch.amount)) ?? refundable[0];
      if (!from) return fail('CONFLICT', 'nothing left to refund on this charge');
      const left = from.cents - from.refunded;
      if (decision > left) fail('VALIDATION', `at most ${text(left)} can be refunded`, 'refund');
      // A partial refund of everything left is a full one.
      planned = [{ payment: from, amount: decision < left ? decision : null }];
    }
    for (const { payment, amount } of planned) {
      if (refundAsked.has(payment.id) && refundAsked.get(payment.id) !== amount) {
        fail('CONFLICT', `a refund of payment ${payment.id} was already requested; make further refunds in Mercado Pago`);
      }
    }
    return planned;
  }

  /** Desk::queue_refunds with MP answering at once: each payment is refunded once, ever; a repeat changes nothing. */
  function performRefunds(ch: ChargeView, planned: { payment: FakePayment; amount: number | null }[]): void {
    for (const { payment, amount } of planned) {
      if (refundAsked.has(payment.id)) continue;
      refundAsked.set(payment.id, amount);
      payment.refunded = amount === null ? payment.cents : payment.refunded + amount;
    }
    setStatus(ch, derived(ch));
  }

  /** Stores a charge's new status and tells the UI, as the Desk does when a status changes. */
  function setStatus(ch: ChargeView, next: string): void {
    if (next === ch.status) return;
    ch.status = next;
    const booking = bookings.find((b) => b.charge === ch);
    if (booking) void emitChargeUpdated({ chargeId: ch.id, bookingId: booking.id, status: next });
  }

  /** desk::RefundDecision::parse, then the charge's scale: null, "none", "full" or cents. */
  function refundDecision(refund: unknown): null | 'none' | 'full' | number {
    if (refund === null || refund === undefined) return null;
    const text = String(refund).trim().toLowerCase();
    if (text === '') fail('VALIDATION', 'choose none, full or an amount', 'refund');
    if (text === 'none' || text === 'ninguno') return 'none';
    if (text === 'full' || text === 'total') return 'full';
    if (!/^\d*\.?\d*$/.test(text) || !(Number(text) > 0)) {
      fail('VALIDATION', 'none, full, or a positive amount such as 25.00', 'refund');
    }
    if (/\.\d{3,}$/.test(text)) fail('VALIDATION', 'PEN amounts have at most 2 decimals', 'refund');
    return cents(text);
  }

  /** Desk::cancel_booking: money checked first, then the calendar, then the charge. */
  function cancelBooking(bookingId: unknown, refund: unknown): BookingView {
    const decision = refundDecision(refund);
    const booking = bookings.find((b) => b.id === bookingId);
    if (!booking) return fail('NOT_FOUND', 'booking not found');
    if (booking.sync === 'pending') fail('CONFLICT', 'the booking is still being created; try again in a moment');
    const ch = booking.charge;
    let planned: ReturnType<typeof planRefunds> = [];
    if (ch && HOLDS_MONEY.includes(ch.status)) {
      if (decision === null) fail('VALIDATION', 'the booking is paid: choose no refund, a partial or a full refund', 'refund');
      if (decision !== 'none') planned = planRefunds(ch, decision);
    }
    if (booking.status !== 'cancelled' && booking.status !== 'deleted') booking.status = 'cancelled';
    if (ch && planned.length > 0) performRefunds(ch, planned);
    else if (ch && (ch.status === 'draft' || ch.status === 'open')) setStatus(ch, 'cancelled');
    return booking;
  }

  /** Desk::refund_charge: money returned without cancelling anything; "none" is no refund to ask for. */
  function refundCharge(chargeId: unknown, refund: unknown): BookingView {
    // The command's argument is a string: anything else never reaches the Desk.
    if (typeof refund !== 'string') throw `invalid args \`refund\` for command \`refund_charge\`: expected a string`;
    const decision = refundDecision(refund);
    const { booking, charge: ch } = findCharge(chargeId);
    if (!HOLDS_MONEY.includes(ch.status)) fail('CONFLICT', 'this charge holds no payment to refund');
    const planned = decision === 'none' || decision === null ? [] : planRefunds(ch, decision);
    if (planned.length === 0) fail('VALIDATION', 'choose full or an amount', 'refund');
    performRefunds(ch, planned);
    return booking;
  }

  /** A second approval of the same amount: MP holds two payments, the charge needs review. */
  function approveAgain(chargeId: string): Promise<void> {
    const { booking, charge: ch } = findCharge(chargeId);
    const list = paymentsOf(ch);
    if (list.length === 0) throw new Error(`approveAgain: charge ${ch.id} was never paid`);
    list.push({ id: ++paymentSerial, cents: cents(ch.amount), refunded: 0 });
    ch.status = derived(ch);
    return emitChargeUpdated({ chargeId: ch.id, bookingId: booking.id, status: ch.status });
  }

  /** Desk::refresh_charge: a payment MP holds but never announced is found now. */
  function checkPayment(chargeId: unknown): null {
    const { booking, charge: ch } = findCharge(chargeId);
    if (unannounced.delete(ch.id) && ch.status === 'open') {
      ch.status = 'paid';
      ch.paidAt = new Date().toISOString();
      void emitChargeUpdated({ chargeId: ch.id, bookingId: booking.id, status: 'paid' });
    }
    return null;
  }


  /** Lower case without accents, as GHL's search matches. */
  const fold = (text: string) => text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  const digits = (text: string) => text.replace(/[^\d]/g, '');

  /** Desk::search_patients: 2–100 characters, then name, phone or email contains it; at most 20. */
  function searchPatients(query: unknown): Patient[] {
    const text = String(query ?? '').trim();
    if ([...text].length < 2 || [...text].length > 100) fail('VALIDATION', 'type 2-100 characters of a name, phone or email', 'query');
    const wanted = fold(text);
    const wantedDigits = digits(text);
    return patients
      .filter((p) => fold(p.name).includes(wanted) || (!!p.email && fold(p.email).includes(wanted)) ||
        (wantedDigits.length >= 3 && !!p.phone && digits(p.phone).includes(wantedDigits)))
      .slice(0, 20);
  }

  /** Desk::create_patient: checks, GHL's duplicate lookup by phone then email, then a new contact. */
  function createPatient(args: Record<string, unknown>): CreatedPatient {
    const name = String(args.name ?? '').trim();
    const phoneText = typeof args.phone === 'string' ? args.phone.trim() : '';
    const email = typeof args.email === 'string' ? args.email.trim().toLowerCase() : '';
    if (!name || name.length > 200) fail('VALIDATION', 'a name is required (at most 200 characters)', 'name');
    if (!phoneText && !email) fail('VALIDATION', 'a phone or an email is required', 'phone');
    let phone: string | null = null;
    if (phoneText) {
      phone = phoneText.replace(/[\s()-]/g, '');
      if (!/^\+?\d{6,15}$/.test(phone)) fail('VALIDATION', 'not a phone number', 'phone');
    }
    if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) fail('VALIDATION', 'not an email address', 'email');
    const same = (phone && patients.find((p) => p.phone && digits(p.phone) === digits(phone))) ||
      (email && patients.find((p) => p.email === email));
    if (same) return { ...same, existing: true };
    const created: Patient = { contactId: `CntNew${String(++serial).padStart(14, '0')}`, name, phone, email: email || null };
    patients.push(created);
    return { ...created, existing: false };
  }

  /**
   * Desk::free_slots: the calendar's opening hours in slots of its length, minus the times
   * bookings GHL holds take. Unlike GHL, past times today are offered too, so the tests do not
   * depend on the hour they run at.
   */
  function freeSlots(calendarId: unknown, day: unknown): FreeSlot[] {
    if (typeof day !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(day)) fail('VALIDATION', 'the day must be YYYY-MM-DD', 'day');
    const calendar = calendars.find((c) => c.id === calendarId);
    if (!calendar) return fail('VALIDATION', 'unknown calendar', 'calendarId');
    if (closed.has(`${calendar.id}|${day}`)) return [];
    const [open, close] = OPEN_HOURS[calendar.id] ?? ['08:00', '20:00'];
    const clock = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
    const taken = bookings.filter((b) => b.calendarId === calendar.id && b.localDate === day && b.sync !== 'failed' &&
      b.status !== 'cancelled' && b.status !== 'deleted');
    const slots: FreeSlot[] = [];
    for (let m = minutes(open); m + calendar.slotMinutes <= minutes(close); m += calendar.slotMinutes) {
      const localStart = clock(m);
      const localEnd = clock(m + calendar.slotMinutes);
      if (taken.some((b) => b.localStart < localEnd && localStart < b.localEnd)) continue;
      slots.push({ startsAt: utc(day, localStart), endsAt: utc(day, localEnd), localStart, localEnd });
    }
    return slots;
  }

  /** Desk::mark_attendance: GHL's appointment status, for a booking that stands and GHL holds. */
  function markAttendance(bookingId: unknown, attendance: unknown): BookingView {
    if (attendance !== 'showed' && attendance !== 'noshow') return fail('VALIDATION', 'showed or noshow', 'attendance');
    const booking = bookings.find((b) => b.id === bookingId);
    if (!booking) return fail('NOT_FOUND', 'booking not found');
    if (booking.sync !== 'synced' || booking.status === 'cancelled' || booking.status === 'deleted') {
      fail('CONFLICT', `the booking is ${booking.sync === 'synced' ? booking.status : booking.sync}: attendance cannot be marked`);
    }
    booking.status = attendance;
    return booking;
  }

  /** Desk::reschedule: a standing booking moved to a free time of its calendar; its charge untouched. */
  function reschedule(bookingId: unknown, startsAt: unknown, endsAt: unknown): BookingView {
    const booking = bookings.find((b) => b.id === bookingId);
    if (!booking) return fail('NOT_FOUND', 'booking not found');
    const instant = (value: unknown, field: string) => {
      const at = typeof value === 'string' ? new Date(value) : new Date(NaN);
      return Number.isNaN(at.getTime()) ? fail('VALIDATION', `${field} is not an instant`, field) : at;
    };
    const start = instant(startsAt, 'startsAt');
    const end = instant(endsAt, 'endsAt');
    if (end <= start) fail('VALIDATION', 'end must be after start', 'endTime');
    if (booking.sync !== 'synced' || booking.status === 'cancelled' || booking.status === 'deleted') {
      fail('CONFLICT', `the booking is ${booking.sync === 'synced' ? booking.status : booking.sync}: it cannot be rescheduled`);
    }
    // Lima is UTC−5 all year: its wall clock is the instant five hours earlier.
    const local = new Date(start.getTime() - 5 * 3_600_000).toISOString();
    const day = local.slice(0, 10);
    const slot = freeSlots(booking.calendarId, day)
      .find((s) => s.startsAt === start.toISOString() && s.endsAt === end.toISOString());
    if (!slot) fail('SLOT_TAKEN', 'The slot you have selected is no longer available.');
    Object.assign(booking, { startsAt: slot.startsAt, endsAt: slot.endsAt, localDate: day, localStart: slot.localStart,
      localEnd: slot.localEnd });
    return booking;
  }

  /** Desk::send_link's checks: a booking not over whose charge is open with a link, a contact reachable by `channel`. */
  function reachable(bookingId: unknown, channel: string): { booking: BookingView; to: string } {
    const booking = bookings.find((b) => b.id === bookingId);
    if (!booking) return fail('NOT_FOUND', 'booking not found');
    const ch = booking.charge;
    if (booking.status === 'cancelled' || booking.status === 'deleted' || ch?.status !== 'open' || !ch.paymentLink) {
      fail('CONFLICT', `the charge is ${ch?.status ?? 'missing'}: its link cannot be sent`);
    }
    const contact = contactOf.get(booking.id);
    const to = channel === 'email' ? contact?.email : contact?.phone;
    if (!to) return fail('VALIDATION', `the contact has no ${channel === 'email' ? 'email' : 'phone'}`, channel === 'email' ? 'email' : 'phone');
    return { booking, to };
  }

  function sendPaymentLink(bookingId: unknown, channel: unknown): { sent: boolean; channel: string } {
    if (channel !== 'whatsapp' && channel !== 'sms' && channel !== 'email') return fail('VALIDATION', 'whatsapp, sms or email', 'channel');
    const { booking, to } = reachable(bookingId, channel);
    messages.push({ bookingId: booking.id, channel, to });
    return { sent: true, channel };
  }

  function whatsappLink(bookingId: unknown): { url: string } {
    const { booking, to } = reachable(bookingId, 'whatsapp');
    const text = `Hola ${booking.patientName.split(' ')[0]}, tu link de pago de ${status.clinicName}: ${booking.charge?.paymentLink ?? ''}`;
    return { url: `https://wa.me/${to.replace(/\D/g, '')}?text=${encodeURIComponent(text)}` };
  }

  const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

  function handle(cmd: string, args: Record<string, unknown>): unknown {
    switch (cmd) {
      case 'app_status':
        return copy(status);
      case 'list_calendars':
        return copy(calendars);
      case 'list_bookings':
        return copy(bookings.filter((b) => b.localDate === args.day));
      case 'create_booking':
        return copy(createBooking(args.request as CreateBookingRequest));
      case 'charge_qr': {
        const { charge: ch } = findCharge(args.chargeId);
        if (!ch.paymentLink) fail('CONFLICT', 'charge has no payment link yet');
        const qr: ChargeQr = { chargeId: ch.id, svg: fakeQrSvg(ch.paymentLink), paymentLink: ch.paymentLink,
          amount: ch.amount, currency: ch.currency, status: ch.status };
        return qr;
      }
      case 'simulate_payment': {
        if (!status.demo) fail('NOT_CONFIGURED', 'simulate_payment is only available in demo mode');
        const { booking, charge: ch } = findCharge(args.chargeId);
        if (ch.status !== 'open') fail('CONFLICT', `charge is ${ch.status}`);
        ch.status = 'paid';
        ch.paidAt = new Date().toISOString();
        // The real app learns of the payment from a webhook a moment later.
        setTimeout(() => void emitChargeUpdated({ chargeId: ch.id, bookingId: booking.id, status: 'paid' }), 300);
        return null;
      }
      case 'cancel_booking':
        return copy(cancelBooking(args.bookingId, args.refund));
      case 'refund_charge':
        return copy(refundCharge(args.chargeId, args.refund));
      case 'check_payment':
        return checkPayment(args.chargeId);
      case 'pending_effects': {
        const { charge: ch } = findCharge(args.chargeId);
        return copy(owed.get(ch.id) ?? []);
      }
      case 'search_patients':
        return copy(searchPatients(args.query));
      case 'create_patient':
        return copy(createPatient(args));
      case 'free_slots':
        return copy(freeSlots(args.calendarId, args.day));
      case 'mark_attendance':
        return copy(markAttendance(args.bookingId, args.attendance));
      case 'reschedule_booking':
        return copy(reschedule(args.bookingId, args.startsAt, args.endsAt));
      case 'send_payment_link':
        return sendPaymentLink(args.bookingId, args.channel);
      case 'whatsapp_link':
        return whatsappLink(args.bookingId);
      case 'retry_link': {
        const { booking, charge: ch } = findCharge(args.chargeId);
        // Desk::create_link_now: no link before GHL holds the booking.
        if (ch.status === 'draft' && booking.sync === 'synced') {
          ch.status = 'open';
          ch.paymentLink = `https://www.mercadopago.com.pe/checkout/v1/redirect?pref_id=retry-${ch.id}`;
          setTimeout(() => void emitChargeUpdated({ chargeId: ch.id, bookingId: booking.id, status: 'open' }), 100);
        }
        return null;
      }
      default:
        return fail('INTERNAL', `unknown command ${cmd}`);
    }
  }

  mockWindows('main');
  mockIPC(
    async (cmd, payload) => {
      const args = (payload ?? {}) as Record<string, unknown>;
      calls.push({ cmd, args: copy(args) });
      await new Promise((resolve) => setTimeout(resolve, latency));
      const failure = failures.get(cmd);
      if (failure) {
        failures.delete(cmd);
        throw failure;
      }
      return handle(cmd, args);
    },
    { shouldMockEvents: true },
  );

  const control: FakeControl = {
    calls,
    failNext: (cmd, error) => void failures.set(cmd, error),
    emitChargeUpdated,
    emitEffectsUpdated,
    bookings: () => copy(bookings),
    payWithoutWebhook: (chargeId) => void unannounced.add(chargeId),
    setStatusSilently: (chargeId, next) => void (findCharge(chargeId).charge.status = next),
    owe,
    settle: (chargeId) => void owed.delete(chargeId),
    owedFor: (chargeId) => copy(owed.get(chargeId) ?? []),
    leaveNextCreatePending: () => void (nextCreatePending = true),
    reconcile,
    approveAgain,
    bookElsewhere: (calendarId, date, start, end, patientName) =>
      void add(calendarId, patientName, date, start, end, charge('80.00', 'open')),
    closeDay: (calendarId, day) => void closed.add(`${calendarId}|${day}`),
    patients: () => copy(patients),
    messages: () => copy(messages),
  };
  window.__mostradorFake = control;
  return control;
}
