// Money for display and for the amount field. Amounts travel as decimal strings
// ("80.00"), never floats; only formatting hands the string to Intl.

/** Currencies Mercado Pago charges without decimals (DESIGN.md §3). */
const ZERO_DECIMAL = new Set(['CLP', 'COP']);

/** How many decimals `currency` allows. */
export function currencyScale(currency: string): number {
  return ZERO_DECIMAL.has(currency.toUpperCase()) ? 0 : 2;
}

// The clinic's local convention for each MP currency; es-PE otherwise ("S/ 80.00").
const MONEY_LOCALE: Record<string, string> = {
  PEN: 'es-PE',
  ARS: 'es-AR',
  BRL: 'pt-BR',
  CLP: 'es-CL',
  COP: 'es-CO',
  MXN: 'es-MX',
  UYU: 'es-UY',
};

/** "80.00" + "PEN" → "S/ 80.00". Falls back to "80.00 XYZ" for an unknown currency code. */
export function formatMoney(amount: string, currency: string): string {
  const code = currency.toUpperCase();
  const scale = currencyScale(code);
  try {
    const format = new Intl.NumberFormat(MONEY_LOCALE[code] ?? 'es-PE', {
      style: 'currency',
      currency: code,
      minimumFractionDigits: scale,
      maximumFractionDigits: scale,
    });
    // Intl formats a numeric string exactly (no float rounding) where supported.
    return format.format(amount as `${number}`);
  } catch {
    return `${amount} ${code}`;
  }
}

/** Why an amount typed by staff is not acceptable, or null when it is. */
export type AmountProblem = 'required' | 'invalid' | 'positive' | 'scale';

/** Normalises what staff typed ("80", " 80,5 ") into the wire form ("80.00", "80.50"). */
export function normalizeAmount(
  input: string,
  currency: string,
): { ok: true; amount: string } | { ok: false; problem: AmountProblem } {
  const trimmed = input.trim().replace(/\s+/g, '');
  if (trimmed === '') return { ok: false, problem: 'required' };
  // A single comma is a decimal separator on many LatAm keyboards.
  const text = /^\d*,\d*$/.test(trimmed) ? trimmed.replace(',', '.') : trimmed;
  const match = /^(\d+)(?:\.(\d*))?$/.exec(text) ?? /^()\.(\d+)$/.exec(text);
  if (!match) return { ok: false, problem: 'invalid' };
  const whole = (match[1] || '0').replace(/^0+(?=\d)/, '');
  const fraction = match[2] ?? '';
  const scale = currencyScale(currency);
  if (fraction.length > scale) return { ok: false, problem: 'scale' };
  if (/^0*$/.test(whole) && /^0*$/.test(fraction)) return { ok: false, problem: 'positive' };
  const amount = scale === 0 ? whole : `${whole}.${fraction.padEnd(scale, '0')}`;
  return { ok: true, amount };
}

/**
 * Orders two amounts of `currency` exactly (in minor units, never as floats): negative when
 * `a` is less than `b`, zero when equal, positive when greater. Both must be valid amounts.
 */
export function compareAmounts(a: string, b: string, currency: string): number {
  const minor = (text: string): bigint => {
    const normal = normalizeAmount(text, currency);
    if (!normal.ok) throw new RangeError(`not an amount: ${text}`);
    return BigInt(normal.amount.replace('.', ''));
  };
  const diff = minor(a) - minor(b);
  return diff < 0n ? -1 : diff > 0n ? 1 : 0;
}
