// End-to-end tests of the built UI in Chromium, against the IPC fake (fake-ipc.ts).
// Run with `npm run test:e2e`; screenshots go to ../test-output/ui/.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { SHOT_DIR, eventually, startHarness, textOf } from './harness.mjs';

/** @type {Awaited<ReturnType<typeof startHarness>>} */
let harness;
/** @type {{ page: import('playwright-core').Page, context: import('playwright-core').BrowserContext, problems: string[] } | null} */
let current = null;

/** @param {Parameters<typeof harness.openPage>[0]} [options] */
async function open(options) {
  current = await harness.openPage(options);
  return current.page;
}

/** @param {import('playwright-core').Page} page @param {string} name */
async function shot(page, name) {
  await page.screenshot({ path: join(SHOT_DIR, `${name}.png`), fullPage: false });
}

/** @param {import('playwright-core').Page} page */
async function createCalls(page) {
  return page.evaluate(() => (window.__mostradorFake?.calls ?? []).filter((c) => c.cmd === 'create_booking'));
}

/** @param {import('playwright-core').Page} page */
async function fillBooking(page, { calendar = 'cal-paredes', name = 'Ana Torres', phone = '+51 987 654 321', start = '15:00', amount = '80' } = {}) {
  await page.getByTestId('booking-calendar').selectOption(calendar);
  await page.getByTestId('booking-patient-name').fill(name);
  await page.getByTestId('booking-patient-phone').fill(phone);
  await page.getByTestId('booking-start').selectOption(start);
  await page.getByTestId('booking-amount').fill(amount);
}

describe('Mostrador desk UI', () => {
  before(async () => {
    harness = await startHarness();
  });

  after(async () => {
    await harness?.stop();
  });

  afterEach(async () => {
    if (!current) return;
    const { context, problems } = current;
    current = null;
    await context.close();
    assert.deepEqual(problems, [], 'no console errors or CSP violations');
  });

  it('shows the demo banner, the clinic and the day’s agenda', async () => {
    const page = await open();
    const banner = page.getByTestId('demo-banner');
    await banner.waitFor();
    assert.match(await textOf(banner), /MODO DEMO/);
    assert.match(await textOf(banner), /no se mueve dinero real/);
    assert.equal(await textOf(page.getByTestId('clinic-name')), 'Clínica San Isidro');
    assert.match(await textOf(page.getByTestId('clinic-timezone')), /America\/Lima/);

    const items = page.getByTestId('agenda-item');
    await eventually(async () => (await items.count()) === 3, 'three seeded bookings');
    const chips = await page.getByTestId('agenda-item-status').allTextContents();
    assert.deepEqual(chips.map((c) => c.trim()), ['Pendiente de pago', 'Pagado', 'Link pendiente']);
    assert.match(await textOf(items.first()), /09:00–09:30.*María Quispe.*Dra\. Rojas.*S\/ 120\.00/);
    await shot(page, '01-agenda');
  });

  it('books and charges: QR and S/ 80.00, then turns Pagado live when the patient pays', async () => {
    const page = await open({ latencyMs: 400 });
    await page.evaluate(() => ((/** @type {any} */ (window)).__sameDocument = true));
    await fillBooking(page);
    assert.equal(await page.getByTestId('booking-end').inputValue(), '15:30', 'end defaults to start + 30 min');
    assert.equal(await page.getByTestId('booking-description').inputValue(), 'Consulta');

    await page.getByTestId('booking-submit').click();
    await eventually(() => page.getByTestId('booking-submit').isDisabled(), 'submit disabled while booking');

    const panel = page.getByTestId('charge-panel');
    await panel.waitFor();
    await page.locator('[data-testid="charge-qr"] svg').waitFor();
    assert.equal(await textOf(page.getByTestId('charge-amount')), 'S/ 80.00');
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Esperando pago');
    assert.equal(await textOf(page.getByTestId('charge-patient')), 'Ana Torres');
    assert.match(await page.getByTestId('charge-link').inputValue(), /^https:\/\/sandbox\.mostrador\.local\/checkout\//);
    const qrBox = await page.getByTestId('charge-qr').boundingBox();
    assert.ok(qrBox && qrBox.width >= 240, `QR large enough to scan (${qrBox?.width}px)`);
    assert.equal(await page.getByTestId('booking-submit').isEnabled(), true);

    const [call] = await createCalls(page);
    const request = /** @type {any} */ (call.args).request;
    assert.match(request.idempotencyKey, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual({ ...request, idempotencyKey: undefined }, {
      idempotencyKey: undefined,
      calendarId: 'cal-paredes',
      patientName: 'Ana Torres',
      patientPhone: '+51 987 654 321',
      date: await page.getByTestId('booking-date').inputValue(),
      startTime: '15:00',
      endTime: '15:30',
      amount: '80.00',
      description: 'Consulta',
    });

    const anaItem = page.getByTestId('agenda-item').filter({ hasText: 'Ana Torres' });
    await anaItem.waitFor();
    assert.equal(await textOf(anaItem.getByTestId('agenda-item-status')), 'Pendiente de pago');
    await shot(page, '02-charge-open');

    await page.getByTestId('simulate-payment').click();
    await eventually(async () => (await textOf(page.getByTestId('charge-status'))) === 'Pagado', 'panel says Pagado');
    await eventually(async () => (await textOf(anaItem.getByTestId('agenda-item-status'))) === 'Pagado', 'agenda says Pagado');
    assert.equal(await page.getByTestId('simulate-payment').count(), 0, 'no simulate button once paid');
    assert.equal(await page.evaluate(() => (/** @type {any} */ (window)).__sameDocument), true, 'no reload');
    await shot(page, '03-charge-paid');
  });

  it('shows a server VALIDATION error under the amount field', async () => {
    const page = await open();
    await fillBooking(page, { amount: '9000' });
    await page.getByTestId('booking-submit').click();
    const error = page.getByTestId('booking-amount-error');
    await error.waitFor();
    assert.match(await textOf(error), /Revisa este dato/);
    assert.match(await textOf(error), /amount exceeds 5000\.00/, 'server text as secondary detail');
    assert.equal(await page.getByTestId('booking-amount').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByTestId('booking-error').count(), 0, 'no banner for a field error');
    assert.equal(await page.getByTestId('charge-panel').count(), 0);
    await shot(page, '04-validation-amount');

    // Client-side checks stop a bad amount before it reaches the server.
    await page.getByTestId('booking-amount').fill('80.123');
    await page.getByTestId('booking-submit').click();
    await eventually(async () => /Máximo 2 decimales/.test(await textOf(error)), 'client-side scale message');
    assert.equal((await createCalls(page)).length, 1, 'no second create_booking');
  });

  it('puts a taken slot under the start time', async () => {
    const page = await open();
    await fillBooking(page, { calendar: 'cal-rojas', start: '09:00' });
    await page.getByTestId('booking-submit').click();
    const error = page.getByTestId('booking-start-error');
    await error.waitFor();
    assert.match(await textOf(error), /horario ya no está disponible/);
  });

  it('retries after an INTERNAL error with the same idempotency key, and a new booking gets a new one', async () => {
    const page = await open();
    await page.evaluate(() =>
      window.__mostradorFake?.failNext('create_booking', { code: 'INTERNAL', message: 'database is locked' }),
    );
    await fillBooking(page);
    await page.getByTestId('booking-submit').click();
    const banner = page.getByTestId('booking-error');
    await banner.waitFor();
    assert.match(await textOf(banner), /Algo salió mal/);
    assert.match(await textOf(banner), /database is locked/);

    await page.getByTestId('booking-submit').click();
    await page.getByTestId('charge-panel').waitFor();
    await fillBooking(page, { name: 'Luis Condori', start: '16:00' });
    await page.getByTestId('booking-submit').click();
    await eventually(async () => (await createCalls(page)).length === 3, 'third create_booking');
    const keys = (await createCalls(page)).map((c) => /** @type {any} */ (c.args).request.idempotencyKey);
    assert.equal(keys[1], keys[0], 'retry reuses the key');
    assert.notEqual(keys[2], keys[0], 'a new booking gets a fresh key');
    await eventually(async () => (await textOf(page.getByTestId('charge-patient'))) === 'Luis Condori', 'second charge shown');
  });

  it('opens an existing charge from the agenda; no simulate button outside demo mode', async () => {
    const page = await open({ demo: false });
    assert.equal(await page.getByTestId('demo-banner').count(), 0);
    await page.getByTestId('agenda-item').filter({ hasText: 'María Quispe' }).click();
    await page.locator('[data-testid="charge-qr"] svg').waitFor();
    assert.equal(await textOf(page.getByTestId('charge-amount')), 'S/ 120.00');
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Esperando pago');
    assert.equal(await page.getByTestId('simulate-payment').count(), 0);

    // A payment confirmed elsewhere (webhook) arrives as an event.
    await page.evaluate(async () => {
      const booking = window.__mostradorFake?.bookings().find((b) => b.patientName === 'María Quispe');
      if (booking?.charge) {
        await window.__mostradorFake?.emitChargeUpdated({ chargeId: booking.charge.id, bookingId: booking.id, status: 'paid' });
      }
    });
    await eventually(async () => (await textOf(page.getByTestId('charge-status'))) === 'Pagado', 'event marks it paid');

    await page.getByTestId('agenda-item').filter({ hasText: 'Rosa Mamani' }).click();
    await page.getByTestId('charge-link-pending').waitFor();
    assert.equal(await page.getByTestId('charge-qr').count(), 0);
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Link pendiente');
    // "Retry now" asks for the link at once; the panel shows the QR when it is ready.
    await page.getByTestId('charge-retry-link').click();
    await page.locator('[data-testid="charge-qr"] svg').waitFor();
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Esperando pago');
  });

  it('switches to English and remembers it', async () => {
    const page = await open();
    await page.getByTestId('lang-en').click();
    assert.equal(await textOf(page.getByTestId('booking-submit')), 'Book and charge');
    assert.match(await textOf(page.getByTestId('demo-banner')), /DEMO MODE/);
    const chips = await page.getByTestId('agenda-item-status').allTextContents();
    assert.deepEqual(chips.map((c) => c.trim()), ['Awaiting payment', 'Paid', 'Link pending']);
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    await page.getByTestId('agenda-item').first().click();
    await page.locator('[data-testid="charge-qr"] svg').waitFor();
    await shot(page, '05-english');

    await page.reload();
    await page.getByTestId('booking-submit').waitFor();
    assert.equal(await textOf(page.getByTestId('booking-submit')), 'Book and charge');
    await page.getByTestId('lang-es').click();
    assert.equal(await textOf(page.getByTestId('booking-submit')), 'Reservar y cobrar');
  });

  it('moves between days', async () => {
    const page = await open();
    const label = page.getByTestId('agenda-day-label');
    // The label fills in once app_status has answered with the clinic's zone.
    await eventually(async () => (await textOf(label)) !== '', 'the day label');
    const today = await textOf(label);
    await page.getByTestId('agenda-next').click();
    await page.getByTestId('agenda-empty').waitFor();
    assert.notEqual(await textOf(label), today);
    await page.getByTestId('agenda-today').click();
    await eventually(async () => (await page.getByTestId('agenda-item').count()) === 3, 'back to today');
    assert.equal(await textOf(label), today);
  });

  it('fits a 1024x700 window without sideways scrolling', async () => {
    const page = await open({ viewport: { width: 1024, height: 700 } });
    await fillBooking(page);
    await page.getByTestId('booking-submit').click();
    await page.locator('[data-testid="charge-qr"] svg').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal overflow (${overflow}px)`);
    await page.waitForTimeout(400); // let the smooth scroll settle for the screenshot
    await shot(page, '06-narrow-1024x700');
  });
});
