import { describe, expect, it } from 'vitest';
import { compareAmounts, currencyScale, formatMoney, normalizeAmount } from './money';

// Intl separates currency and number with a no-break space in some locales.
const plain = (s: string) => s.replace(/\u00a0|\u202f/g, ' ');

describe('formatMoney', () => {
  it('formats soles the Peruvian way', () => {
    expect(plain(formatMoney('80.00', 'PEN'))).toBe('S/ 80.00');
    expect(plain(formatMoney('1234.5', 'PEN'))).toBe('S/ 1,234.50');
  });

  it('keeps the exact decimal string, no float rounding', () => {
    expect(plain(formatMoney('0.29', 'PEN'))).toBe('S/ 0.29');
    expect(plain(formatMoney('9999999.99', 'PEN'))).toBe('S/ 9,999,999.99');
  });

  it('shows no decimals for CLP and COP', () => {
    expect(plain(formatMoney('15000', 'CLP'))).toBe('$15.000');
    expect(plain(formatMoney('15000', 'COP'))).toMatch(/^\$ ?15\.000$/);
  });

  it('falls back to amount and code for an unknown currency', () => {
    expect(formatMoney('10.00', 'NOPE')).toBe('10.00 NOPE');
  });
});

describe('normalizeAmount', () => {
  it('pads to the currency scale', () => {
    expect(normalizeAmount('80', 'PEN')).toEqual({ ok: true, amount: '80.00' });
    expect(normalizeAmount(' 80.5 ', 'PEN')).toEqual({ ok: true, amount: '80.50' });
    expect(normalizeAmount('.5', 'PEN')).toEqual({ ok: true, amount: '0.50' });
    expect(normalizeAmount('007.10', 'PEN')).toEqual({ ok: true, amount: '7.10' });
  });

  it('accepts a decimal comma', () => {
    expect(normalizeAmount('80,5', 'PEN')).toEqual({ ok: true, amount: '80.50' });
  });

  it('rejects more decimals than the currency allows', () => {
    expect(normalizeAmount('80.123', 'PEN')).toEqual({ ok: false, problem: 'scale' });
    expect(normalizeAmount('1,000', 'PEN')).toEqual({ ok: false, problem: 'scale' });
    expect(normalizeAmount('15000.5', 'CLP')).toEqual({ ok: false, problem: 'scale' });
    expect(normalizeAmount('15000', 'CLP')).toEqual({ ok: true, amount: '15000' });
  });

  it('rejects zero, negatives, text and empty input', () => {
    expect(normalizeAmount('0', 'PEN')).toEqual({ ok: false, problem: 'positive' });
    expect(normalizeAmount('0.00', 'PEN')).toEqual({ ok: false, problem: 'positive' });
    expect(normalizeAmount('-5', 'PEN')).toEqual({ ok: false, problem: 'invalid' });
    expect(normalizeAmount('ochenta', 'PEN')).toEqual({ ok: false, problem: 'invalid' });
    expect(normalizeAmount('1e3', 'PEN')).toEqual({ ok: false, problem: 'invalid' });
    expect(normalizeAmount('  ', 'PEN')).toEqual({ ok: false, problem: 'required' });
  });

  it('knows each currency scale', () => {
    expect(currencyScale('PEN')).toBe(2);
    expect(currencyScale('clp')).toBe(0);
  });
});

describe('compareAmounts', () => {
  it('orders amounts exactly, whatever their spelling', () => {
    expect(compareAmounts('80.01', '80.00', 'PEN')).toBe(1);
    expect(compareAmounts('80', '80.00', 'PEN')).toBe(0);
    expect(compareAmounts('9.99', '10', 'PEN')).toBe(-1);
    expect(compareAmounts('0.3', '0.29', 'PEN')).toBe(1);
    expect(compareAmounts('9999999999999999.99', '9999999999999999.98', 'PEN')).toBe(1);
    expect(compareAmounts('15001', '15000', 'CLP')).toBe(1);
  });

  it('refuses what is not an amount', () => {
    expect(() => compareAmounts('abc', '1', 'PEN')).toThrow(RangeError);
  });
});
