import { describe, expect, it } from 'vitest';
import { PENDING_KINDS, nextAttemptClock, pendingKindKey } from './pending';

describe('owed provider tasks', () => {
  it('names every kind the engine reports, and a generic label for a new one', () => {
    expect(PENDING_KINDS.map(pendingKindKey)).toEqual(PENDING_KINDS.map((k) => `pending.kind.${k}`));
    expect(pendingKindKey('ghl.something_new')).toBe('pending.kind.unknown');
  });

  it('gives the next try as HH:MM in the clinic zone, or null once it is due', () => {
    const now = new Date('2025-05-14T19:00:00Z');
    // 02:05 UTC on the 15th is 21:05 on the 14th in Lima (UTC−5).
    expect(nextAttemptClock('2025-05-15T02:05:00.000Z', 'America/Lima', now)).toBe('21:05');
    expect(nextAttemptClock('2025-05-15T02:05:00.000Z', 'Asia/Tokyo', now)).toBe('11:05');
    expect(nextAttemptClock('2025-05-14T19:00:00.000Z', 'America/Lima', now)).toBeNull();
    expect(nextAttemptClock('2025-05-14T18:00:00.000Z', 'America/Lima', now)).toBeNull();
    expect(nextAttemptClock('not a time', 'America/Lima', now)).toBeNull();
  });
});
