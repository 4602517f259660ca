import { describe, expect, it } from 'vitest';
import { dictionaries, LANGS, translate, asLang } from './i18n';
import { ERROR_CODES } from './api';
import { CHARGE_STATUSES } from './status';
import { PENDING_KINDS } from './pending';

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('i18n', () => {
  it('every key exists, non-empty, in both languages', () => {
    const esKeys = Object.keys(dictionaries.es).sort();
    for (const lang of LANGS) {
      expect(Object.keys(dictionaries[lang]).sort()).toEqual(esKeys);
      for (const key of esKeys) {
        expect(dictionaries[lang][key as keyof typeof dictionaries.es].trim(), `${lang}:${key}`).not.toBe('');
      }
    }
  });

  it('both languages use the same placeholders for each key', () => {
    for (const key of Object.keys(dictionaries.es) as (keyof typeof dictionaries.es)[]) {
      expect(placeholders(dictionaries.en[key]), key).toEqual(placeholders(dictionaries.es[key]));
    }
  });

  it('has a message for every error code, charge status and owed provider task', () => {
    for (const code of ERROR_CODES) expect(dictionaries.es).toHaveProperty(`error.${code}`);
    for (const status of CHARGE_STATUSES) expect(dictionaries.es).toHaveProperty(`charge.status.${status}`);
    for (const kind of PENDING_KINDS) expect(dictionaries.es).toHaveProperty(`pending.kind.${kind}`);
  });

  it('fills placeholders and leaves unknown ones visible', () => {
    expect(translate('es', 'app.timezone', { tz: 'America/Lima' })).toBe('Zona horaria: America/Lima');
    expect(translate('en', 'validation.amountScale', { scale: 2, currency: 'PEN' })).toBe('At most 2 decimals for PEN.');
    expect(translate('es', 'app.timezone')).toBe('Zona horaria: {tz}');
  });

  it('speaks the brief’s words in Spanish', () => {
    expect(translate('es', 'booking.submit')).toBe('Reservar y cobrar');
    expect(translate('es', 'panel.simulate')).toBe('Simular pago del paciente');
    expect(translate('es', 'demo.title')).toBe('MODO DEMO');
    expect(translate('es', 'panel.waiting')).toBe('Esperando pago');
    expect(translate('es', 'panel.cancel')).toBe('Cancelar cita');
    expect(translate('es', 'panel.check')).toBe('Verificar pago');
    expect(translate('es', 'cancel.title')).toBe('¿Cancelar la cita?');
    expect(translate('es', 'cancel.unpaidBody')).toBe('El link de pago dejará de funcionar.');
    expect(translate('es', 'cancel.refundNone')).toBe('Sin devolución');
    expect(translate('es', 'cancel.refundFull', { amount: 'S/ 80.00' })).toBe('Devolución total (S/ 80.00)');
    expect(translate('es', 'cancel.refundPartial')).toBe('Devolución parcial');
    expect(translate('es', 'booking.status.cancelled')).toBe('Cancelada');
    expect(translate('es', 'pending.title')).toBe('Pendiente con GHL / Mercado Pago');
    expect(translate('es', 'panel.moneyKept')).toBe('La cita está cancelada y el pago sigue cobrado.');
    expect(translate('es', 'panel.refund')).toBe('Devolver pago');
    expect(translate('es', 'charge.status.partially_refunded')).toBe('Reembolso parcial');
    expect(translate('es', 'pending.kind.mp.create_link')).toBe('Crear el link de pago');
    expect(translate('es', 'pending.kind.ghl.note')).toBe('Anotar el pago en GHL');
    expect(translate('es', 'booking.sync.pending')).toBe('Confirmando con GHL…');
    expect(translate('es', 'booking.sync.failed')).toBe('No agendada en GHL');
    expect(translate('es', 'panel.syncPending')).toBe(
      'GHL no respondió; Mostrador lo verificará automáticamente en unos minutos. El link de pago se creará si la cita existe.',
    );
    expect(translate('es', 'panel.syncFailed')).toBe(
      'Esta cita no quedó agendada en GHL; el cobro fue cancelado. Reserva de nuevo.',
    );
  });

  it('accepts only supported languages', () => {
    expect(asLang('en')).toBe('en');
    expect(asLang('fr')).toBeNull();
    expect(asLang(null)).toBeNull();
  });
});
