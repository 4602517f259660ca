import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from './api';
import { errorMessageKey, isTransient, toApiError } from './errors';
import { translate } from './i18n';

describe('error codes → messages', () => {
  it('maps every stable code to its own message in both languages', () => {
    const es = new Set<string>();
    for (const code of ERROR_CODES) {
      const key = errorMessageKey(code);
      expect(key).toBe(`error.${code}`);
      es.add(translate('es', key));
      expect(translate('en', key)).not.toBe(translate('es', key));
    }
    expect(es.size).toBe(ERROR_CODES.length);
  });

  it('gives unknown codes a generic message instead of the server text', () => {
    expect(errorMessageKey('TEAPOT')).toBe('error.UNKNOWN');
  });

  it('says a taken slot in Spanish', () => {
    expect(translate('es', errorMessageKey('SLOT_TAKEN'))).toMatch(/horario ya no está disponible/);
  });
});

describe('toApiError', () => {
  it('keeps a structured command error', () => {
    expect(toApiError({ code: 'VALIDATION', message: 'bad', details: { field: 'amount' } })).toEqual({
      code: 'VALIDATION',
      message: 'bad',
      details: { field: 'amount' },
    });
  });

  it('treats strings and exceptions as INTERNAL', () => {
    expect(toApiError('command create_booking not found')).toEqual({
      code: 'INTERNAL',
      message: 'command create_booking not found',
    });
    expect(toApiError(new TypeError('boom')).code).toBe('INTERNAL');
    expect(toApiError(undefined)).toEqual({ code: 'INTERNAL', message: '' });
  });

  it('drops malformed details', () => {
    expect(toApiError({ code: 'CONFLICT', message: 'x', details: { field: 3 } })).toEqual({ code: 'CONFLICT', message: 'x' });
  });

  it('knows which failures leave the outcome unknown', () => {
    for (const code of ['INTERNAL', 'PROVIDER_UNAVAILABLE', 'RATE_LIMITED', 'DB_UNAVAILABLE', 'SOMETHING_NEW']) {
      expect(isTransient({ code, message: '' }), code).toBe(true);
    }
    for (const code of ['VALIDATION', 'SLOT_TAKEN', 'NOT_FOUND', 'CONFLICT', 'GHL_UNAUTHORIZED', 'NOT_CONFIGURED']) {
      expect(isTransient({ code, message: '' }), code).toBe(false);
    }
  });
});
