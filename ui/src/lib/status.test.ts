import { describe, expect, it } from 'vitest';
import { BOOKING_SYNC_STATES } from './api';
import { translate } from './i18n';
import { bookingInactive, bookingOverKey, bookingSyncChip } from './status';

describe('whether GHL holds a booking', () => {
  it('gives a booking GHL is still confirming a calm chip, and one it never made a danger chip', () => {
    expect(bookingSyncChip('pending')).toEqual({ key: 'booking.sync.pending', tone: 'pending' });
    expect(bookingSyncChip('failed')).toEqual({ key: 'booking.sync.failed', tone: 'danger' });
  });

  it('shows no chip once GHL holds it, nor for a state this UI does not know', () => {
    expect(bookingSyncChip('synced')).toBeNull();
    expect(bookingSyncChip('something_new')).toBeNull();
  });

  it('says it in Spanish and in English', () => {
    const words = (lang: 'es' | 'en') =>
      BOOKING_SYNC_STATES.map((s) => bookingSyncChip(s)).map((chip) => chip && translate(lang, chip.key));
    expect(words('es')).toEqual(['Confirmando con GHL…', null, 'No agendada en GHL']);
    expect(words('en')).toEqual(['Checking with GHL…', null, 'Not booked in GHL']);
  });
});

describe('bookingInactive', () => {
  it('quiets a booking that is over or that GHL never made', () => {
    expect(bookingInactive({ status: 'cancelled', sync: 'synced' })).toBe(true);
    expect(bookingInactive({ status: 'deleted', sync: 'synced' })).toBe(true);
    expect(bookingInactive({ status: 'new', sync: 'failed' })).toBe(true);
  });

  it('keeps standing bookings active, including one GHL is still confirming', () => {
    expect(bookingInactive({ status: 'confirmed', sync: 'synced' })).toBe(false);
    expect(bookingInactive({ status: 'new', sync: 'pending' })).toBe(false);
  });

  it('still names only cancelled and deleted as over', () => {
    expect(bookingOverKey('cancelled')).toBe('booking.status.cancelled');
    expect(bookingOverKey('deleted')).toBe('booking.status.deleted');
    expect(bookingOverKey('new')).toBeNull();
  });
});
