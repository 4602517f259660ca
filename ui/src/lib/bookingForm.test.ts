import { describe, expect, it } from 'vitest';
import {
  IdempotencyKeys,
  formFieldOf,
  placeServerError,
  validateBooking,
  type BookingFormValues,
  type BookingPayload,
} from './bookingForm';

const valid: BookingFormValues = {
  calendarId: 'cal-1',
  contactId: '',
  patientName: '  Ana Torres ',
  patientPhone: '',
  date: '2025-05-14',
  startTime: '09:00',
  endTime: '09:30',
  amount: '80',
  description: 'Consulta',
};

describe('validateBooking', () => {
  it('builds the request payload from a valid form', () => {
    expect(validateBooking(valid, 'PEN')).toEqual({
      ok: true,
      payload: {
        calendarId: 'cal-1',
        patientName: 'Ana Torres',
        patientPhone: null,
        contactId: null,
        date: '2025-05-14',
        startTime: '09:00',
        endTime: '09:30',
        amount: '80.00',
        description: 'Consulta',
      },
    });
  });

  it('requires the end after the start', () => {
    const result = validateBooking({ ...valid, startTime: '10:00', endTime: '10:00' }, 'PEN');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.endTime?.key).toBe('validation.endAfterStart');
  });

  it('requires a positive amount with at most two decimals for PEN', () => {
    const zero = validateBooking({ ...valid, amount: '0' }, 'PEN');
    const three = validateBooking({ ...valid, amount: '80.001' }, 'PEN');
    expect(!zero.ok && zero.errors.amount?.key).toBe('validation.amountPositive');
    expect(!three.ok && three.errors.amount).toEqual({
      key: 'validation.amountScale',
      params: { scale: 2, currency: 'PEN' },
    });
  });

  it('reports every missing field at once', () => {
    const result = validateBooking(
      { ...valid, calendarId: '', patientName: ' ', date: '', amount: '', description: '' },
      'PEN',
    );
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(Object.keys(result.errors).sort()).toEqual(['amount', 'calendarId', 'date', 'description', 'patientName']);
    }
  });

  it('books the picked patient by contact id, and the typed name when none was picked', () => {
    const picked = validateBooking({ ...valid, contactId: 'CntAnaTorres00000001' }, 'PEN');
    expect(picked.ok && picked.payload.contactId).toBe('CntAnaTorres00000001');
    const typed = validateBooking(valid, 'PEN');
    expect(typed.ok && typed.payload.contactId).toBeNull();
  });

  it('asks for a free time when none is chosen (an empty day, or none picked yet)', () => {
    const none = validateBooking({ ...valid, startTime: '', endTime: '' }, 'PEN');
    expect(!none.ok && none.errors.startTime?.key).toBe('validation.startRequired');
  });

  it('keeps an optional phone and rejects a phone with letters', () => {
    const good = validateBooking({ ...valid, patientPhone: '+51 987 654 321' }, 'PEN');
    expect(good.ok && good.payload.patientPhone).toBe('+51 987 654 321');
    const bad = validateBooking({ ...valid, patientPhone: 'llamar luego' }, 'PEN');
    expect(!bad.ok && bad.errors.patientPhone?.key).toBe('validation.phoneInvalid');
  });
});

describe('server errors on the form', () => {
  it('maps server field names onto form fields', () => {
    expect(formFieldOf('amount')).toBe('amount');
    expect(formFieldOf('patient_name')).toBe('patientName');
    expect(formFieldOf('request.startTime')).toBe('startTime');
    expect(formFieldOf('end')).toBe('endTime');
    expect(formFieldOf('contactId')).toBe('contactId');
    expect(formFieldOf('somethingElse')).toBeNull();
    expect(formFieldOf(undefined)).toBeNull();
  });

  it('puts a field error under its field, with the server text as detail', () => {
    expect(placeServerError({ code: 'VALIDATION', message: 'too large', details: { field: 'amount' } })).toEqual({
      field: 'amount',
      message: { key: 'validation.serverField', detail: 'too large' },
    });
  });

  it('puts a taken slot under the start time and anything else in the banner', () => {
    expect(placeServerError({ code: 'SLOT_TAKEN', message: 'x' })).toMatchObject({ field: 'startTime' });
    expect(placeServerError({ code: 'MP_UNAUTHORIZED', message: 'x' })).toEqual({
      banner: { code: 'MP_UNAUTHORIZED', message: 'x' },
    });
  });
});

describe('IdempotencyKeys', () => {
  const payload = (validateBooking(valid, 'PEN') as { ok: true; payload: BookingPayload }).payload;
  const counter = () => {
    let n = 0;
    return new IdempotencyKeys(() => `key-${++n}`);
  };

  it('reuses the key when the same form is retried after a transient error', () => {
    const keys = counter();
    const first = keys.keyFor(payload);
    keys.settle(first, { code: 'INTERNAL', message: '' });
    expect(keys.keyFor(payload)).toBe(first);
    keys.settle(first, { code: 'PROVIDER_UNAVAILABLE', message: '' });
    expect(keys.keyFor({ ...payload })).toBe(first);
  });

  it('reuses the key while the first attempt has not answered', () => {
    const keys = counter();
    expect(keys.keyFor(payload)).toBe(keys.keyFor(payload));
  });

  it('mints a fresh key when the form changed', () => {
    const keys = counter();
    const first = keys.keyFor(payload);
    keys.settle(first, { code: 'INTERNAL', message: '' });
    expect(keys.keyFor({ ...payload, amount: '90.00' })).not.toBe(first);
  });

  it('mints a fresh key when another patient was picked', () => {
    const keys = counter();
    const first = keys.keyFor(payload);
    keys.settle(first, { code: 'INTERNAL', message: '' });
    expect(keys.keyFor({ ...payload, contactId: 'CntAnaTorres00000001' })).not.toBe(first);
  });

  it('mints a fresh key after a success or a definite rejection', () => {
    const keys = counter();
    const first = keys.keyFor(payload);
    keys.settle(first, null);
    const second = keys.keyFor(payload);
    expect(second).not.toBe(first);
    keys.settle(second, { code: 'VALIDATION', message: '', details: { field: 'amount' } });
    expect(keys.keyFor(payload)).not.toBe(second);
  });

  it('uses crypto.randomUUID by default', () => {
    expect(new IdempotencyKeys().keyFor(payload)).toMatch(/^[0-9a-f-]{36}$/);
  });
});
