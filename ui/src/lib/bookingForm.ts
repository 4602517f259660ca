// The booking form's rules, kept out of the component so they can be tested: the
// client-side checks that mirror the server's, mapping server field names onto form
// fields, and when a retry must reuse the previous idempotency key.

import type { ApiError, CreateBookingRequest } from './api';
import type { MessageKey, Params } from './i18n';
import { currencyScale, normalizeAmount } from './money';
import { isDay, toMinutes } from './time';
import { errorMessageKey, isTransient } from './errors';

/**
 * The form as typed; field names match `CreateBookingRequest`. `contactId` is the patient
 * picked in the search ("" when the name and phone were typed instead); `startTime` and
 * `endTime` are a free slot's.
 */
export type BookingFormValues = {
  calendarId: string;
  contactId: string;
  patientName: string;
  patientPhone: string;
  date: string;
  startTime: string;
  endTime: string;
  amount: string;
  description: string;
};

export type FormField = keyof BookingFormValues;
export const FORM_FIELDS: readonly FormField[] = [
  'calendarId',
  'contactId',
  'patientName',
  'patientPhone',
  'date',
  'startTime',
  'endTime',
  'amount',
  'description',
];

/** A message for one field, translated at render time. */
export type FieldMessage = { key: MessageKey; params?: Params; detail?: string };
export type FieldErrors = Partial<Record<FormField, FieldMessage>>;

export const MAX_NAME = 120;
export const MAX_DESCRIPTION = 200;

/** The request without its idempotency key. */
export type BookingPayload = Omit<CreateBookingRequest, 'idempotencyKey'>;

/** Checks the form and, when it passes, builds the request payload. */
export function validateBooking(
  form: BookingFormValues,
  currency: string,
): { ok: true; payload: BookingPayload } | { ok: false; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const patientName = form.patientName.trim();
  const phone = form.patientPhone.trim();
  const description = form.description.trim();

  if (!form.calendarId) errors.calendarId = { key: 'validation.calendarRequired' };
  if (!patientName) errors.patientName = { key: 'validation.patientNameRequired' };
  else if (patientName.length > MAX_NAME) errors.patientName = { key: 'validation.patientNameTooLong' };
  if (phone && !/^\+?[\d\s()-]{6,20}$/.test(phone)) errors.patientPhone = { key: 'validation.phoneInvalid' };
  if (!isDay(form.date)) errors.date = { key: 'validation.dateRequired' };

  const start = toMinutes(form.startTime);
  const end = toMinutes(form.endTime);
  if (Number.isNaN(start)) errors.startTime = { key: 'validation.startRequired' };
  else if (Number.isNaN(end) || end <= start) errors.endTime = { key: 'validation.endAfterStart' };

  const amount = normalizeAmount(form.amount, currency);
  if (!amount.ok) errors.amount = amountMessage(amount.problem, currency);

  if (!description) errors.description = { key: 'validation.descriptionRequired' };
  else if (description.length > MAX_DESCRIPTION) errors.description = { key: 'validation.descriptionTooLong' };

  if (Object.keys(errors).length > 0 || !amount.ok) return { ok: false, errors };
  return {
    ok: true,
    payload: {
      calendarId: form.calendarId,
      patientName,
      patientPhone: phone || null,
      contactId: form.contactId || null,
      date: form.date,
      startTime: form.startTime,
      endTime: form.endTime,
      amount: amount.amount,
      description,
    },
  };
}

/** The message for an amount `normalizeAmount` refused (the booking form and the refund share it). */
export function amountMessage(problem: string, currency: string): FieldMessage {
  switch (problem) {
    case 'required':
      return { key: 'validation.amountRequired' };
    case 'positive':
      return { key: 'validation.amountPositive' };
    case 'scale':
      return currencyScale(currency) === 0
        ? { key: 'validation.amountNoDecimals', params: { currency } }
        : { key: 'validation.amountScale', params: { scale: currencyScale(currency), currency } };
    default:
      return { key: 'validation.amountInvalid' };
  }
}

// Server field names the UI accepts besides the request's own camelCase ones.
const FIELD_ALIASES: Record<string, FormField> = {
  calendar: 'calendarId',
  name: 'patientName',
  patient: 'patientName',
  phone: 'patientPhone',
  start: 'startTime',
  startsat: 'startTime',
  end: 'endTime',
  endsat: 'endTime',
  day: 'date',
  contact: 'contactId',
};

/** The form field a server error points at (`details.field`), if the UI has one. */
export function formFieldOf(serverField: string | undefined): FormField | null {
  if (!serverField) return null;
  // "request.amount" or "request[amount]" → "amount"; snake_case → camelCase.
  const last = serverField.split(/[.[\]]/).filter(Boolean).pop() ?? '';
  const camel = last.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const direct = FORM_FIELDS.find((f) => f.toLowerCase() === camel.toLowerCase());
  return direct ?? FIELD_ALIASES[camel.toLowerCase()] ?? null;
}

/** Where a rejected `create_booking` should be shown: under a field, or in the banner. */
export function placeServerError(
  error: ApiError,
): { field: FormField; message: FieldMessage } | { banner: ApiError } {
  const field = formFieldOf(error.details?.field);
  if (field) {
    const key = error.code === 'VALIDATION' ? 'validation.serverField' : errorMessageKey(error.code);
    return { field, message: { key, detail: error.message || undefined } };
  }
  if (error.code === 'SLOT_TAKEN') {
    return { field: 'startTime', message: { key: 'error.SLOT_TAKEN' } };
  }
  return { banner: error };
}

/**
 * Hands out idempotency keys for `create_booking`. A submit gets a fresh key, except
 * when it repeats, unchanged, a request whose outcome is unknown (it failed with a
 * transient error or never answered): then the server may already have acted on it,
 * and reusing the key makes the retry return that booking instead of a second one.
 */
export class IdempotencyKeys {
  private last: { fingerprint: string; key: string; reusable: boolean } | null = null;

  constructor(private readonly mint: () => string = () => crypto.randomUUID()) {}

  /** The key to send with `payload`. Until `settle` is called, a resend reuses it. */
  keyFor(payload: BookingPayload): string {
    const fingerprint = fingerprintOf(payload);
    if (this.last && this.last.reusable && this.last.fingerprint === fingerprint) return this.last.key;
    const key = this.mint();
    this.last = { fingerprint, key, reusable: true };
    return key;
  }

  /** Records how the request sent with `key` ended: `null` for success. */
  settle(key: string, error: ApiError | null): void {
    if (!this.last || this.last.key !== key) return;
    this.last.reusable = error !== null && isTransient(error);
  }
}

function fingerprintOf(payload: BookingPayload): string {
  // Fixed key order so equal payloads always give equal fingerprints.
  return JSON.stringify([
    payload.calendarId,
    payload.patientName,
    payload.patientPhone,
    payload.contactId,
    payload.date,
    payload.startTime,
    payload.endTime,
    payload.amount,
    payload.description,
  ]);
}
