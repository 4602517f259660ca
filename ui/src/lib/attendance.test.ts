import { describe, expect, it } from 'vitest';
import type { BookingSync } from './api';
import { attendanceChip, attendanceOf, canMarkAttendance } from './attendance';

const booking = (status: string, sync: BookingSync = 'synced') => ({ status, sync });

describe('attendance', () => {
  it('can be marked on a booking that stands and GHL holds, marked or not', () => {
    for (const status of ['new', 'confirmed', 'showed', 'noshow']) {
      expect(canMarkAttendance(booking(status)), status).toBe(true);
    }
  });

  it('cannot be marked on a booking pending with GHL, never made, cancelled or deleted (the engine says CONFLICT)', () => {
    expect(canMarkAttendance(booking('new', 'pending'))).toBe(false);
    expect(canMarkAttendance(booking('new', 'failed'))).toBe(false);
    expect(canMarkAttendance(booking('cancelled'))).toBe(false);
    expect(canMarkAttendance(booking('deleted'))).toBe(false);
  });

  it('reads GHL’s status: showed is "Llegó", noshow "No asistió", anything else unmarked', () => {
    expect(attendanceOf('showed')).toBe('showed');
    expect(attendanceOf('confirmed')).toBeNull();
    expect(attendanceChip('showed')).toEqual({ key: 'attendance.showed', tone: 'success' });
    expect(attendanceChip('noshow')).toEqual({ key: 'attendance.noshow', tone: 'warning' });
    expect(attendanceChip('confirmed')).toBeNull();
  });
});
