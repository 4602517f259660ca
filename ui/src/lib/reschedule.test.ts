import { describe, expect, it } from 'vitest';
import { canReschedule, rescheduleErrorKey } from './reschedule';

describe('reschedule', () => {
  it('offers "Reprogramar" only for a booking that stands and GHL holds', () => {
    expect(canReschedule({ status: 'confirmed', sync: 'synced' })).toBe(true);
    expect(canReschedule({ status: 'showed', sync: 'synced' })).toBe(true);
    expect(canReschedule({ status: 'new', sync: 'pending' })).toBe(false);
    expect(canReschedule({ status: 'new', sync: 'failed' })).toBe(false);
    expect(canReschedule({ status: 'cancelled', sync: 'synced' })).toBe(false);
    expect(canReschedule({ status: 'deleted', sync: 'synced' })).toBe(false);
  });

  it('says a time taken meanwhile, a booking that changed, else the code’s words', () => {
    expect(rescheduleErrorKey({ code: 'SLOT_TAKEN', message: '' })).toBe('reschedule.slotTaken');
    expect(rescheduleErrorKey({ code: 'CONFLICT', message: '' })).toBe('reschedule.conflict');
    expect(rescheduleErrorKey({ code: 'PROVIDER_UNAVAILABLE', message: '' })).toBe('error.PROVIDER_UNAVAILABLE');
    expect(rescheduleErrorKey({ code: 'WHAT', message: '' })).toBe('error.UNKNOWN');
  });
});
