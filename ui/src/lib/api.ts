// The UI's only door to the Rust side: the command contract's types and thin typed
// wrappers over `invoke`/`listen`. Nothing else in the UI imports `@tauri-apps/api`,
// so tests and the browser fake replace exactly this surface.

import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';

/** What the shell tells the UI about the clinic and the mode it runs in. */
export type AppStatus = {
  demo: boolean;
  clinicName: string;
  timezone: string;
  currency: string;
  listenerUrl: string | null;
};

/** A GHL calendar the desk can book into. */
export type Calendar = { id: string; name: string; slotMinutes: number };

/** A charge as the desk sees it; `amount` is a decimal string, never a float. */
export type ChargeView = {
  id: string;
  amount: string;
  currency: string;
  status: string;
  paymentLink: string | null;
  paidAt: string | null;
};

/**
 * Whether GHL holds a booking (`BookingView.sync`). `synced`: it does. `pending`: stored here,
 * GHL's answer still owed — a second while booking, or, when GHL did not answer and could not be
 * asked, until the reconciler (every few minutes) adopts the appointment GHL made or fails it.
 * `failed`: GHL refused it or never made it; nothing exists there and its charge is cancelled.
 */
export const BOOKING_SYNC_STATES = ['pending', 'synced', 'failed'] as const;
export type BookingSync = (typeof BOOKING_SYNC_STATES)[number];

/** A booking with its times already in the clinic's time zone. */
export type BookingView = {
  id: string;
  ghlId: string | null;
  calendarId: string;
  calendarName: string | null;
  title: string;
  patientName: string;
  startsAt: string;
  endsAt: string;
  localDate: string;
  localStart: string;
  localEnd: string;
  status: string;
  sync: BookingSync;
  charge: ChargeView | null;
};

/** The booking form as sent to `create_booking`. */
export type CreateBookingRequest = {
  idempotencyKey: string;
  calendarId: string;
  patientName: string;
  patientPhone: string | null;
  /** The GHL contact picked in the patient search; null books the typed name and phone. */
  contactId: string | null;
  date: string;
  startTime: string;
  endTime: string;
  amount: string;
  description: string;
};

/** A patient: a GHL contact found by `search_patients`. `name` is empty for a nameless contact. */
export type Patient = { contactId: string; name: string; phone: string | null; email: string | null };

/** `create_patient`'s answer: `existing` when GHL already had this person and nothing was made. */
export type CreatedPatient = Patient & { existing: boolean };

/**
 * A free slot of a calendar on a local day: UTC instants ("YYYY-MM-DDTHH:MM:SS.mmmZ") and the
 * clinic's wall clock ("HH:MM").
 */
export type FreeSlot = { startsAt: string; endsAt: string; localStart: string; localEnd: string };

/** What `mark_attendance` records in GHL: "llegó" or "no asistió". */
export const ATTENDANCE = ['showed', 'noshow'] as const;
export type Attendance = (typeof ATTENDANCE)[number];

/** How `send_payment_link` reaches the patient, through GHL conversations. */
export const SEND_CHANNELS = ['whatsapp', 'sms', 'email'] as const;
export type SendChannel = (typeof SEND_CHANNELS)[number];

/** `send_payment_link`'s answer. */
export type LinkSent = { sent: boolean; channel: string };

/** `whatsapp_link`'s answer: a `wa.me` URL with the prefilled message. */
export type WhatsAppLink = { url: string };

/** Everything the charge panel needs to show a payable QR. */
export type ChargeQr = {
  chargeId: string;
  svg: string;
  paymentLink: string;
  amount: string;
  currency: string;
  status: string;
};

/**
 * A side effect still owed to GHL or Mercado Pago for a charge (an outbox item). `kind` is one
 * of `PENDING_KINDS` (pending.ts); `nextAttemptAt` is UTC text "YYYY-MM-DDTHH:MM:SS.mmmZ".
 */
export type PendingEffect = {
  kind: string;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: string;
};

/** Payload of the `charge-updated` event. */
export type ChargeUpdated = { chargeId: string; bookingId: string; status: string };

/** Payload of the `effects-updated` event: a side effect's try failed, the charge's status did not change. */
export type EffectsUpdated = { chargeId: string };

/** The stable error codes of DESIGN.md §5. */
export const ERROR_CODES = [
  'VALIDATION',
  'SLOT_TAKEN',
  'NOT_FOUND',
  'CONFLICT',
  'GHL_UNAUTHORIZED',
  'MP_UNAUTHORIZED',
  'PROVIDER_UNAVAILABLE',
  'RATE_LIMITED',
  'DB_UNAVAILABLE',
  'KEYCHAIN_UNAVAILABLE',
  'NOT_CONFIGURED',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** A rejected command, as the Rust side serialises it. */
export type ApiError = { code: string; message: string; details?: { field?: string } };

/** Name of the event the shell emits when a charge changes status. */
export const CHARGE_UPDATED_EVENT = 'charge-updated';

/** Name of the event the shell emits when what is owed for a charge changed without a status change. */
export const EFFECTS_UPDATED_EVENT = 'effects-updated';

export const api = {
  appStatus: () => invoke<AppStatus>('app_status'),
  listCalendars: () => invoke<Calendar[]>('list_calendars'),
  listBookings: (day: string) => invoke<BookingView[]>('list_bookings', { day }),
  createBooking: (request: CreateBookingRequest) =>
    invoke<BookingView>('create_booking', { request }),
  chargeQr: (chargeId: string) => invoke<ChargeQr>('charge_qr', { chargeId }),
  simulatePayment: (chargeId: string) => invoke<null>('simulate_payment', { chargeId }),
  retryLink: (chargeId: string) => invoke<null>('retry_link', { chargeId }),
  /** `refund`: null for an unpaid booking; "none", "full" or an amount ("25.00") for a paid one. */
  cancelBooking: (bookingId: string, refund: string | null) =>
    invoke<BookingView>('cancel_booking', { bookingId, refund }),
  /**
   * Refunds a charge that still holds the patient's money without cancelling anything.
   * `refund`: "full" or an amount ("25.00"); "none" is refused.
   */
  refundCharge: (chargeId: string, refund: string) =>
    invoke<BookingView>('refund_charge', { chargeId, refund }),
  checkPayment: (chargeId: string) => invoke<null>('check_payment', { chargeId }),
  pendingEffects: (chargeId: string) => invoke<PendingEffect[]>('pending_effects', { chargeId }),
  /** GHL contacts by name, phone or email (at most 20); `query` needs 2–100 characters. */
  searchPatients: (query: string) => invoke<Patient[]>('search_patients', { query }),
  /** Adds a patient after GHL's duplicate lookup; needs a name and a phone or an email. */
  createPatient: (name: string, phone: string | null, email: string | null) =>
    invoke<CreatedPatient>('create_patient', { name, phone, email }),
  /** The free slots of `calendarId` on the clinic-local `day` ("YYYY-MM-DD"), earliest first. */
  freeSlots: (calendarId: string, day: string) => invoke<FreeSlot[]>('free_slots', { calendarId, day }),
  /** "Llegó" / "No asistió", written to GHL; answers the booking as it now stands. */
  markAttendance: (bookingId: string, attendance: Attendance) =>
    invoke<BookingView>('mark_attendance', { bookingId, attendance }),
  /**
   * Moves a booking that stands to another free time (`startsAt`/`endsAt` as `free_slots` gives
   * them), keeping its charge as it is; a taken or off-grid time is SLOT_TAKEN.
   */
  rescheduleBooking: (bookingId: string, startsAt: string, endsAt: string) =>
    invoke<BookingView>('reschedule_booking', { bookingId, startsAt, endsAt }),
  /** Sends the open payment link to the patient through GHL conversations. */
  sendPaymentLink: (bookingId: string, channel: SendChannel) =>
    invoke<LinkSent>('send_payment_link', { bookingId, channel }),
  /** "Abrir WhatsApp": a `wa.me` URL with the prefilled message; sends nothing. */
  whatsappLink: (bookingId: string) => invoke<WhatsAppLink>('whatsapp_link', { bookingId }),
  onChargeUpdated: (handler: (update: ChargeUpdated) => void): Promise<UnlistenFn> =>
    listen<ChargeUpdated>(CHARGE_UPDATED_EVENT, (event) => handler(event.payload)),
  onEffectsUpdated: (handler: (update: EffectsUpdated) => void): Promise<UnlistenFn> =>
    listen<EffectsUpdated>(EFFECTS_UPDATED_EVENT, (event) => handler(event.payload)),
};
