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

/** @param {import('playwright-core').Page} page @param {string} cmd */
async function callsOf(page, cmd) {
  return page.evaluate((name) => (window.__mostradorFake?.calls ?? []).filter((c) => c.cmd === name).map((c) => c.args), cmd);
}

/** The data-testid of the focused element. @param {import('playwright-core').Page} page */
async function focused(page) {
  return page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName ?? null);
}

/** Resolves once the page has rendered its next frame (pending reactions flushed). @param {import('playwright-core').Page} page */
async function nextFrame(page) {
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0))));
}

/**
 * Makes `scrollIntoView` jump instead of animating, as a reduced-motion user would see it, so
 * a screenshot shows where a scroll ends without waiting for an animation (Chromium animates
 * `behavior: 'smooth'` even under emulated reduced motion). @param {import('playwright-core').Page} page
 */
async function instantScrolls(page) {
  await page.evaluate(() => {
    const scroll = Element.prototype.scrollIntoView;
    /** @param {boolean | ScrollIntoViewOptions} [arg] @this {Element} */
    Element.prototype.scrollIntoView = function (arg) {
      scroll.call(this, arg && typeof arg === 'object' ? { ...arg, behavior: 'instant' } : arg);
    };
  });
}

/** Opens the seeded booking of `patient` and waits for its QR. @param {import('playwright-core').Page} page @param {string} patient */
async function openCharge(page, patient) {
  await page.getByTestId('agenda-item').filter({ hasText: patient }).click();
  await page.locator('[data-testid="charge-qr"] svg').waitFor();
}

/** What the fake's outbox owes for `patient`'s charge. @param {import('playwright-core').Page} page @param {string} patient */
async function owedFor(page, patient) {
  return page.evaluate((name) => {
    const fake = window.__mostradorFake;
    const booking = fake?.bookings().find((b) => b.patientName === name);
    return booking?.charge && fake ? fake.owedFor(booking.charge.id) : [];
  }, patient);
}

/** An instant as the clinic's (Lima's) 24-hour clock. @param {string} iso */
function limaClock(iso) {
  return new Intl.DateTimeFormat('en-GB', { timeZone: 'America/Lima', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    .format(new Date(iso));
}

/** Its agenda row's chips. @param {import('playwright-core').Page} page @param {string} patient */
async function rowChips(page, patient) {
  const row = page.getByTestId('agenda-item').filter({ hasText: patient });
  return {
    charge: await textOf(row.getByTestId('agenda-item-status')),
    booking: (await row.getByTestId('agenda-item-booking-status').count()) ? await textOf(row.getByTestId('agenda-item-booking-status')) : null,
  };
}

/** Its agenda row. @param {import('playwright-core').Page} page @param {string} patient */
function rowOf(page, patient) {
  return page.getByTestId('agenda-item').filter({ hasText: patient });
}

/** Whether its agenda row is shown quieter (over, or never made in GHL). @param {import('playwright-core').Page} page @param {string} patient */
async function rowInactive(page, patient) {
  return rowOf(page, patient).evaluate((el) => el.classList.contains('inactive'));
}

/** The fake's id of `patient`'s booking. @param {import('playwright-core').Page} page @param {string} patient */
async function bookingIdOf(page, patient) {
  const id = await page.evaluate((name) => window.__mostradorFake?.bookings().find((b) => b.patientName === name)?.id, patient);
  assert.ok(id, `a booking for ${patient}`);
  return id;
}

/** The choices' labels of an open dialog, spaces made plain. @param {import('playwright-core').Locator} dialog */
async function choiceLabels(dialog) {
  const labels = await dialog.locator('label.choice').allTextContents();
  return labels.map((l) => l.replace(/\s+/g, ' ').replace(/\u00a0/g, ' ').trim());
}

/** Cancels the open booking keeping the money ("Sin devolución"). @param {import('playwright-core').Page} page */
async function cancelKeepingMoney(page) {
  await page.getByTestId('cancel-booking').click();
  const dialog = page.getByTestId('cancel-dialog');
  await dialog.getByLabel('Sin devolución').check();
  await dialog.getByTestId('cancel-confirm').click();
  await dialog.waitFor({ state: 'detached' });
  await eventually(async () => (await textOf(page.getByTestId('booking-status'))) === 'Cancelada', 'cancelled');
}

/**
 * Nothing on the panel invites an action: no link, no QR, no retry, check, cancel or simulate.
 * @param {import('playwright-core').Page} page
 */
async function assertNoChargeActions(page) {
  for (const testid of ['charge-qr', 'charge-link', 'charge-retry-link', 'check-payment', 'cancel-booking', 'simulate-payment']) {
    assert.equal(await page.getByTestId(testid).count(), 0, `no ${testid}`);
  }
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
    await eventually(async () => (await items.count()) === 5, 'five seeded bookings');
    const chips = await page.getByTestId('agenda-item-status').allTextContents();
    assert.deepEqual(chips.map((c) => c.trim()), ['Pendiente de pago', 'Pagado', 'Link pendiente', 'Link pendiente', 'Cancelado']);
    const sync = await page.getByTestId('agenda-item-sync').allTextContents();
    assert.deepEqual(sync.map((c) => c.trim()), ['Confirmando con GHL…', 'No agendada en GHL'], 'only bookings GHL does not hold say so');
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
      contactId: null,
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

  it('a time another desk took meanwhile: "ya no está disponible" under the slot, which is no longer offered', async () => {
    const page = await open();
    const start = page.getByTestId('booking-start');
    await fillBooking(page, { calendar: 'cal-rojas', start: '10:00' });
    // Another desk books 10:00 after this picker read the free times.
    await page.evaluate(() => {
      const fake = window.__mostradorFake;
      const day = /** @type {HTMLInputElement} */ (document.querySelector('[data-testid="booking-date"]')).value;
      fake?.bookElsewhere('cal-rojas', day, '10:00', '10:30', 'Otra Paciente');
    });
    await page.getByTestId('booking-submit').click();
    const error = page.getByTestId('booking-start-error');
    await error.waitFor();
    assert.match(await textOf(error), /horario ya no está disponible/);
    await eventually(async () => !(await start.locator('option').allTextContents()).some((o) => o.startsWith('10:00')),
      '10:00 no longer offered');
    assert.equal(await page.getByTestId('charge-panel').count(), 0);
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

  it('cancels an unpaid booking after a confirm step: Cancelada, and the link is Cancelado', async () => {
    const page = await open();
    await openCharge(page, 'María Quispe');
    const dialog = page.getByTestId('cancel-dialog');

    // Esc closes the confirm step and changes nothing; focus goes back to the button.
    await page.getByTestId('cancel-booking').click();
    await dialog.waitFor();
    assert.equal(await page.getByRole('dialog', { name: '¿Cancelar la cita?' }).count(), 1, 'a named dialog');
    assert.match(await textOf(dialog), /El link de pago dejará de funcionar\./);
    assert.match(await textOf(dialog), /María Quispe/);
    assert.equal(await focused(page), 'cancel-back', 'focus starts on the safe answer');
    assert.equal(await dialog.getByTestId('cancel-refund').count(), 0, 'no refund question for an unpaid booking');
    await shot(page, '07-cancel-unpaid-confirm');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await focused(page), 'cancel-booking');
    assert.deepEqual(await callsOf(page, 'cancel_booking'), []);

    // By keyboard: open, Tab to the confirm button, Enter.
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'cancel-confirm');
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });

    await eventually(async () => (await textOf(page.getByTestId('booking-status'))) === 'Cancelada', 'panel says Cancelada');
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Cancelado');
    assert.deepEqual(await rowChips(page, 'María Quispe'), { charge: 'Cancelado', booking: 'Cancelada' });
    assert.equal(await page.getByTestId('cancel-booking').count(), 0, 'nothing left to cancel');
    assert.equal(await page.getByTestId('check-payment').count(), 0, 'nothing left to check');
    assert.equal(await page.getByTestId('charge-qr').count(), 0, 'a dead link offers no QR');
    assert.equal(await page.getByTestId('charge-link').count(), 0);
    assert.equal(await page.getByTestId('simulate-payment').count(), 0);
    assert.equal(await focused(page), 'charge-close', 'focus stays in the panel');
    const [args] = await callsOf(page, 'cancel_booking');
    assert.deepEqual(args, { bookingId: (await page.evaluate(() => window.__mostradorFake?.bookings()[0].id)), refund: null });
    await shot(page, '08-cancelled-unpaid');
  });

  it('cancels a paid booking with a partial refund: checks the amount, shows Rust’s refusal, then Reembolso parcial', async () => {
    const page = await open();
    await openCharge(page, 'Jorge Huamán');
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Pagado');
    assert.equal(await page.getByTestId('check-payment').count(), 0, 'a paid charge needs no check');
    await page.getByTestId('cancel-booking').click();
    const dialog = page.getByTestId('cancel-dialog');
    await dialog.waitFor();
    assert.match(await textOf(dialog.getByTestId('cancel-body')), /El paciente ya pagó S\/ 80\.00/);
    const labels = await dialog.locator('label.choice').allTextContents();
    assert.deepEqual(labels.map((l) => l.replace(/\s+/g, ' ').replace(/\u00a0/g, ' ').trim()),
      ['Sin devolución', 'Devolución total (S/ 80.00)', 'Devolución parcial']);
    assert.equal(await focused(page), 'cancel-refund-none', 'focus on the first choice, none chosen yet');
    assert.equal(await dialog.locator('input[type="radio"]:checked').count(), 0);

    // Nothing is sent until the decision is complete and plausible.
    await dialog.getByTestId('cancel-confirm').click();
    const error = dialog.getByTestId('cancel-refund-error');
    await error.waitFor();
    assert.equal(await textOf(error), 'Elige qué hacer con el dinero.');
    await dialog.getByLabel('Devolución parcial').check();
    const amount = dialog.getByTestId('cancel-refund-amount');
    await amount.waitFor();
    assert.equal(await focused(page), 'cancel-refund-amount', 'the amount takes focus');
    await amount.fill('90');
    await page.keyboard.press('Enter');
    await eventually(async () => (await textOf(error)) === 'No puede ser más de S/ 80.00.', 'more than paid');
    assert.equal(await amount.getAttribute('aria-invalid'), 'true');
    assert.equal(await amount.getAttribute('aria-describedby'), 'cancel-refund-error');
    await amount.fill('80.123');
    await dialog.getByTestId('cancel-confirm').click();
    await eventually(async () => /Máximo 2 decimales/.test(await textOf(error)), 'scale');
    assert.deepEqual(await callsOf(page, 'cancel_booking'), [], 'no call for a bad amount');

    // Rust's refusal on field "refund" lands next to the input.
    await page.evaluate(() => window.__mostradorFake?.failNext('cancel_booking',
      { code: 'VALIDATION', message: 'at most 50.00 can be refunded', details: { field: 'refund' } }));
    await amount.fill('60');
    await dialog.getByTestId('cancel-confirm').click();
    await eventually(async () => /Revisa este dato.*at most 50\.00 can be refunded/.test(await textOf(error)), 'server field error');
    assert.equal(await dialog.getByTestId('cancel-error').count(), 0, 'no banner for a field error');
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Pagado', 'nothing changed');
    await shot(page, '09-cancel-paid-refund-error');

    await amount.fill('30,5');
    await dialog.getByTestId('cancel-confirm').click();
    await dialog.waitFor({ state: 'detached' });
    await eventually(async () => (await textOf(page.getByTestId('charge-status'))) === 'Reembolso parcial', 'panel says Reembolso parcial');
    assert.equal(await textOf(page.getByTestId('booking-status')), 'Cancelada');
    assert.deepEqual(await rowChips(page, 'Jorge Huamán'), { charge: 'Reembolso parcial', booking: 'Cancelada' });
    const args = await callsOf(page, 'cancel_booking');
    assert.deepEqual(args.map((a) => /** @type {any} */ (a).refund), ['60.00', '30.50']);
    assert.equal(await page.getByTestId('cancel-booking').count(), 0);
    await shot(page, '10-cancelled-partial-refund');
  });

  it('a booking paid meanwhile turns the confirm step into the refund question', async () => {
    const page = await open();
    await openCharge(page, 'María Quispe');
    await page.evaluate(() => {
      const booking = window.__mostradorFake?.bookings().find((b) => b.patientName === 'María Quispe');
      if (booking?.charge) window.__mostradorFake?.setStatusSilently(booking.charge.id, 'paid');
    });
    await page.getByTestId('cancel-booking').click();
    const dialog = page.getByTestId('cancel-dialog');
    await dialog.getByTestId('cancel-confirm').click();
    const error = dialog.getByTestId('cancel-refund-error');
    await error.waitFor();
    assert.equal(await textOf(error), 'El paciente acaba de pagar: elige qué hacer con el dinero.');
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Pagado', 'the panel re-read the charge');
    await dialog.getByLabel('Sin devolución').check();
    await dialog.getByTestId('cancel-confirm').click();
    await dialog.waitFor({ state: 'detached' });
    await eventually(async () => (await textOf(page.getByTestId('booking-status'))) === 'Cancelada', 'cancelled');
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Pagado', 'the money is kept');
    assert.deepEqual((await callsOf(page, 'cancel_booking')).map((a) => /** @type {any} */ (a).refund), [null, 'none']);
  });

  it('a provider failure shows in the dialog, which stays open', async () => {
    const page = await open();
    await openCharge(page, 'Jorge Huamán');
    await page.evaluate(() => window.__mostradorFake?.failNext('cancel_booking', { code: 'PROVIDER_UNAVAILABLE', message: 'GHL timed out' }));
    await page.getByTestId('cancel-booking').click();
    const dialog = page.getByTestId('cancel-dialog');
    await dialog.getByLabel('Devolución total (S/ 80.00)').check();
    await dialog.getByTestId('cancel-confirm').click();
    const banner = dialog.getByTestId('cancel-error');
    await banner.waitFor();
    assert.match(await textOf(banner), /no responden.*GHL timed out/);
    await dialog.getByTestId('cancel-confirm').click();
    await dialog.waitFor({ state: 'detached' });
    await eventually(async () => (await textOf(page.getByTestId('charge-status'))) === 'Reembolsado', 'refunded');
    assert.deepEqual(await rowChips(page, 'Jorge Huamán'), { charge: 'Reembolsado', booking: 'Cancelada' });
  });

  it('money kept at cancel: a notice, "Devolver pago" partial → Reembolso parcial, and one refund per payment', async () => {
    const page = await open();
    await openCharge(page, 'Jorge Huamán');
    assert.equal(await page.getByTestId('charge-refund-offer').count(), 0, 'a paid, standing booking offers no refund');
    await cancelKeepingMoney(page);
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Pagado', 'the money is kept');

    const offer = page.getByTestId('charge-refund-offer');
    await offer.waitFor();
    assert.equal(await offer.getAttribute('data-offer'), 'kept');
    assert.equal(await textOf(offer.getByTestId('charge-refund-offer-text')), 'La cita está cancelada y el pago sigue cobrado.');
    const refundButton = page.getByTestId('refund-charge');
    assert.equal(await textOf(refundButton), 'Devolver pago');
    assert.equal(await page.getByTestId('cancel-booking').count(), 0, 'nothing left to cancel');
    await shot(page, '17-money-kept-notice');

    // The refund question alone: no "Sin devolución", no cancel wording.
    await refundButton.click();
    const dialog = page.getByTestId('refund-dialog');
    await dialog.waitFor();
    assert.equal(await page.getByRole('dialog', { name: '¿Devolver el pago?' }).count(), 1, 'a named dialog');
    assert.equal(await textOf(dialog.getByTestId('cancel-body')), 'El paciente pagó S/ 80.00. ¿Cuánto le devolvemos?');
    assert.deepEqual(await choiceLabels(dialog), ['Devolución total (S/ 80.00)', 'Devolución parcial']);
    assert.equal(await dialog.getByTestId('cancel-refund-none').count(), 0);
    assert.equal(await textOf(dialog.getByTestId('cancel-confirm')), 'Devolver pago');
    assert.doesNotMatch(await textOf(dialog), /cancel/i);
    assert.equal(await focused(page), 'cancel-refund-full', 'focus on the first choice, none chosen yet');
    assert.equal(await dialog.locator('input[type="radio"]:checked').count(), 0);

    // The cancel dialog's amount rules, before anything is sent.
    await dialog.getByTestId('cancel-confirm').click();
    const error = dialog.getByTestId('cancel-refund-error');
    await error.waitFor();
    assert.equal(await textOf(error), 'Elige qué hacer con el dinero.');
    await dialog.getByLabel('Devolución parcial').check();
    const amount = dialog.getByTestId('cancel-refund-amount');
    await amount.waitFor();
    assert.equal(await focused(page), 'cancel-refund-amount');
    await amount.fill('90');
    await page.keyboard.press('Enter');
    await eventually(async () => (await textOf(error)) === 'No puede ser más de S/ 80.00.', 'more than paid');
    assert.equal(await amount.getAttribute('aria-invalid'), 'true');
    assert.deepEqual(await callsOf(page, 'refund_charge'), [], 'no call for a bad amount');

    // Rust's refusal on field "refund" lands next to the input.
    await page.evaluate(() => window.__mostradorFake?.failNext('refund_charge',
      { code: 'VALIDATION', message: 'at most 50.00 can be refunded', details: { field: 'refund' } }));
    await amount.fill('60');
    await dialog.getByTestId('cancel-confirm').click();
    await eventually(async () => /Revisa este dato.*at most 50\.00 can be refunded/.test(await textOf(error)), 'server field error');
    assert.equal(await dialog.getByTestId('cancel-error').count(), 0, 'no banner for a field error');
    await shot(page, '18-refund-dialog-field-error');

    await amount.fill('30');
    await dialog.getByTestId('cancel-confirm').click();
    await dialog.waitFor({ state: 'detached' });
    await eventually(async () => (await textOf(page.getByTestId('charge-status'))) === 'Reembolso parcial', 'panel says Reembolso parcial');
    assert.deepEqual(await rowChips(page, 'Jorge Huamán'), { charge: 'Reembolso parcial', booking: 'Cancelada' });
    assert.equal(await focused(page), 'charge-close', 'focus stays in the panel');
    const chargeId = await page.getByTestId('charge-panel').getAttribute('data-charge-id');
    assert.deepEqual(await callsOf(page, 'refund_charge'), [{ chargeId, refund: '60.00' }, { chargeId, refund: '30.00' }]);
    assert.deepEqual((await callsOf(page, 'cancel_booking')).map((a) => /** @type {any} */ (a).refund), ['none'], 'nothing cancelled again');
    await eventually(async () => (await textOf(offer.getByTestId('charge-refund-offer-text'))) ===
      'La cita está cancelada y parte del pago sigue cobrada.', 'part of it is still held');
    await shot(page, '19-refunded-partial');

    // MP's payment had its one refund through Mostrador: another amount is refused, in the dialog.
    await refundButton.click();
    await dialog.waitFor();
    assert.match(await textOf(dialog.getByTestId('cancel-body')), /^Ya se devolvió una parte de S\/ 80\.00\./);
    assert.deepEqual(await choiceLabels(dialog), ['Devolver todo lo que queda', 'Devolución parcial']);
    await dialog.getByLabel('Devolver todo lo que queda').check();
    await dialog.getByTestId('cancel-confirm').click();
    const banner = dialog.getByTestId('cancel-error');
    await banner.waitFor();
    assert.equal(await banner.getAttribute('data-code'), 'CONFLICT');
    assert.match(await textOf(banner),
      /^Mostrador no puede pedir esta devolución: .* Haz cualquier otra devolución en Mercado Pago\. Detalle: .*make further refunds in Mercado Pago$/);
    assert.equal(await error.count(), 0, 'not an amount problem');
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Reembolso parcial', 'nothing changed');
    await shot(page, '20-refund-conflict');
    await dialog.getByTestId('cancel-back').click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await focused(page), 'refund-charge');

    await page.getByTestId('lang-en').click();
    assert.equal(await textOf(offer.getByTestId('charge-refund-offer-text')), 'The appointment is cancelled and part of the payment is still held.');
    assert.equal(await textOf(refundButton), 'Refund payment');
    await refundButton.click();
    assert.equal(await page.getByRole('dialog', { name: 'Refund the payment?' }).count(), 1);
    assert.deepEqual(await choiceLabels(dialog), ['Refund everything left', 'Partial refund']);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });

  it('a second approval on a standing booking: "Revisar" offers "Devolver pago" for the extra payment', async () => {
    const page = await open();
    await openCharge(page, 'Jorge Huamán');
    const chargeId = await page.getByTestId('charge-panel').getAttribute('data-charge-id');
    await page.evaluate((id) => window.__mostradorFake?.approveAgain(id ?? ''), chargeId);
    await eventually(async () => (await textOf(page.getByTestId('charge-status'))) === 'Revisar', 'the charge needs review');

    const offer = page.getByTestId('charge-refund-offer');
    await offer.waitFor();
    assert.equal(await offer.getAttribute('data-offer'), 'review');
    assert.match(await textOf(offer), /el paciente pagó dos veces/);
    assert.equal(await page.getByTestId('cancel-booking').count(), 1, 'the booking still stands');
    await shot(page, '21-review-refund-offer');

    await page.getByTestId('refund-charge').click();
    const dialog = page.getByTestId('refund-dialog');
    await dialog.waitFor();
    assert.match(await textOf(dialog.getByTestId('cancel-body')), /devuelve solo el pago de más con una devolución parcial/);
    assert.deepEqual(await choiceLabels(dialog), ['Devolver todo lo que queda', 'Devolución parcial']);
    await dialog.getByLabel('Devolución parcial').check();
    await dialog.getByTestId('cancel-refund-amount').fill('80');
    await dialog.getByTestId('cancel-confirm').click();
    await dialog.waitFor({ state: 'detached' });

    // One of the two payments is back: the other pays the charge, the booking is untouched.
    await eventually(async () => (await textOf(page.getByTestId('charge-status'))) === 'Pagado', 'paid again');
    await offer.waitFor({ state: 'detached' });
    assert.equal(await page.getByTestId('booking-status').count(), 0, 'not cancelled');
    assert.deepEqual(await rowChips(page, 'Jorge Huamán'), { charge: 'Pagado', booking: null });
    assert.deepEqual(await callsOf(page, 'refund_charge'), [{ chargeId, refund: '80.00' }]);
    assert.deepEqual(await callsOf(page, 'cancel_booking'), []);
  });

  it('effects-updated re-reads what is owed for the charge on screen only; a refund on its way is not offered again', async () => {
    const page = await open();
    await openCharge(page, 'Jorge Huamán');
    await eventually(async () => (await callsOf(page, 'pending_effects')).length === 1, 'read on open');
    const pending = page.getByTestId('charge-pending');
    assert.equal(await pending.count(), 0, 'nothing owed');
    const ids = await page.evaluate(() => {
      const all = window.__mostradorFake?.bookings() ?? [];
      return {
        jorge: all.find((b) => b.patientName === 'Jorge Huamán')?.charge?.id ?? '',
        maria: all.find((b) => b.patientName === 'María Quispe')?.charge?.id ?? '',
      };
    });
    const qrReads = (await callsOf(page, 'charge_qr')).length;
    const dayReads = (await callsOf(page, 'list_bookings')).length;

    // GHL failed the tag: owed silently, then the worker's event. Another charge's event asks nothing.
    await page.evaluate(({ jorge, maria }) => {
      window.__mostradorFake?.owe(jorge, { kind: 'ghl.tag', attempts: 1, lastError: 'GoHighLevel is unavailable: 500' });
      return window.__mostradorFake?.emitEffectsUpdated({ chargeId: maria });
    }, ids);
    // No pause for "nothing happened": the fake's emit runs the listeners before it resolves,
    // and a re-read records its `pending_effects` call as it is made (fake-ipc.ts). Once the
    // emit has resolved and the UI has rendered a frame, the decision is on record.
    await nextFrame(page);
    assert.equal((await callsOf(page, 'pending_effects')).length, 1, 'another charge: not re-read');
    assert.equal(await pending.count(), 0);

    await page.evaluate((chargeId) => window.__mostradorFake?.emitEffectsUpdated({ chargeId }), ids.jorge);
    const item = page.getByTestId('pending-item');
    await item.waitFor();
    assert.match(await textOf(item), /^Etiquetar al paciente en GHL Intentos: 1 Próximo intento \d\d:\d\d Último error: GoHighLevel is unavailable: 500$/);
    assert.deepEqual(await callsOf(page, 'pending_effects'), [{ chargeId: ids.jorge }, { chargeId: ids.jorge }]);
    assert.equal((await callsOf(page, 'charge_qr')).length, qrReads, 'no status change: no charge re-read');
    assert.equal((await callsOf(page, 'list_bookings')).length, dayReads, 'nor the day');
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Pagado');
    await pending.scrollIntoViewIfNeeded();
    await shot(page, '22-effects-updated');

    // Money kept at cancel, then a refund asked elsewhere that MP has not answered: what is owed says so.
    await cancelKeepingMoney(page);
    const offer = page.getByTestId('charge-refund-offer');
    await offer.waitFor();
    await page.evaluate((chargeId) => {
      window.__mostradorFake?.owe(chargeId, { kind: 'mp.refund', attempts: 1, lastError: 'Mercado Pago is unavailable: 503' });
      return window.__mostradorFake?.emitEffectsUpdated({ chargeId });
    }, ids.jorge);
    await offer.waitFor({ state: 'detached' });
    assert.deepEqual(await page.getByTestId('pending-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-kind'))),
      ['ghl.tag', 'mp.refund']);
  });

  it('"Verificar pago" asks MP now: nothing yet, then a payment whose webhook never came', async () => {
    const page = await open({ demo: false });
    await openCharge(page, 'María Quispe');
    await page.getByTestId('check-payment').click();
    const result = page.getByTestId('charge-check-result');
    await result.waitFor();
    assert.equal(await textOf(result), 'Mercado Pago aún no registra un pago para este cobro.');
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Esperando pago');

    await page.evaluate(() => {
      const booking = window.__mostradorFake?.bookings().find((b) => b.patientName === 'María Quispe');
      if (booking?.charge) window.__mostradorFake?.payWithoutWebhook(booking.charge.id);
    });
    await page.getByTestId('check-payment').click();
    await eventually(async () => (await textOf(page.getByTestId('charge-status'))) === 'Pagado', 'paid after the check');
    assert.equal(await result.count(), 0);
    assert.equal(await page.getByTestId('check-payment').count(), 0);
    assert.deepEqual((await rowChips(page, 'María Quispe')).charge, 'Pagado');
    const checks = await callsOf(page, 'check_payment');
    assert.equal(checks.length, 2);
    assert.match(/** @type {any} */ (checks[0]).chargeId, /^chg-/);
  });

  it('lists what is still owed to GHL / Mercado Pago, refreshed on charge-updated, hidden when nothing is', async () => {
    const page = await open();
    // A draft charge owes its link: the list is read when the panel opens the charge.
    await page.getByTestId('agenda-item').filter({ hasText: 'Rosa Mamani' }).click();
    const pending = page.getByTestId('charge-pending');
    await pending.waitFor();
    const title = 'Pendiente con GHL / Mercado Pago';
    assert.equal(await page.getByRole('heading', { name: title }).count(), 1);
    const list = page.getByRole('list', { name: title });
    assert.equal(await list.getByRole('listitem').count(), 1, 'a list named by its heading');
    const [rosaOwed] = await owedFor(page, 'Rosa Mamani');
    assert.equal(await textOf(list.getByRole('listitem')),
      `Crear el link de pago Intentos: 2 Próximo intento ${limaClock(rosaOwed.nextAttemptAt)} ` +
      'Último error: Mercado Pago is unavailable: 503 Service Unavailable');

    // A paid charge with nothing owed shows no section.
    await openCharge(page, 'Jorge Huamán');
    await eventually(async () => (await callsOf(page, 'pending_effects')).length === 2, 'read for the second charge');
    const jorge = await page.evaluate(() => window.__mostradorFake?.bookings().find((b) => b.patientName === 'Jorge Huamán'));
    assert.ok(jorge?.charge);
    assert.equal(await pending.count(), 0, 'hidden when nothing is owed');

    // GHL fails the tag and the note waits: the next charge-updated brings them in.
    const inTenMinutes = new Date(Date.now() + 10 * 60_000).toISOString();
    await page.evaluate(({ chargeId, at }) => {
      window.__mostradorFake?.owe(chargeId, { kind: 'ghl.tag', attempts: 3, lastError: 'GoHighLevel is unavailable: 500', nextAttemptAt: at });
      window.__mostradorFake?.owe(chargeId, { kind: 'ghl.note', nextAttemptAt: new Date(Date.now() - 1000).toISOString() });
    }, { chargeId: jorge.charge.id, at: inTenMinutes });
    const announce = () => page.evaluate(({ chargeId, bookingId }) =>
      window.__mostradorFake?.emitChargeUpdated({ chargeId, bookingId, status: 'paid' }), { chargeId: jorge.charge?.id ?? '', bookingId: jorge.id });
    await announce();
    const items = list.getByRole('listitem');
    await eventually(async () => (await items.count()) === 2, 'two owed items after the event');
    assert.deepEqual(await page.getByTestId('pending-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-kind'))),
      ['ghl.tag', 'ghl.note']);
    assert.equal(await textOf(items.nth(0)),
      `Etiquetar al paciente en GHL Intentos: 3 Próximo intento ${limaClock(inTenMinutes)} Último error: GoHighLevel is unavailable: 500`);
    assert.equal(await textOf(items.nth(1)), 'Anotar el pago en GHL Próximo intento: ahora', 'no tries yet, due now');
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Pagado');
    await pending.scrollIntoViewIfNeeded();
    await shot(page, '11-pending-effects');

    // The list cannot be read: a quiet line, the last list stays, the panel goes on working.
    await page.evaluate(() => window.__mostradorFake?.failNext('pending_effects', { code: 'DB_UNAVAILABLE', message: 'database is locked' }));
    await announce();
    const failed = page.getByTestId('charge-pending-failed');
    await failed.waitFor();
    assert.equal(await textOf(failed), 'No se pudo consultar lo pendiente con GHL / Mercado Pago.');
    assert.equal(await failed.getAttribute('role'), null, 'quiet: no alert');
    assert.equal(await items.count(), 2);
    assert.equal(await page.getByTestId('charge-error').count(), 0, 'the panel is not blocked');
    assert.equal(await page.getByTestId('cancel-booking').isEnabled(), true);

    // All done: the next read empties the list and the section goes.
    await page.evaluate((chargeId) => window.__mostradorFake?.settle(chargeId), jorge.charge.id);
    await announce();
    await pending.waitFor({ state: 'detached' });
    assert.equal(await failed.count(), 0);
  });

  it('says what is owed in English after switching', async () => {
    const page = await open();
    await page.getByTestId('agenda-item').filter({ hasText: 'Rosa Mamani' }).click();
    const item = page.getByTestId('pending-item');
    await item.waitFor();
    assert.match(await textOf(item), /^Crear el link de pago /);
    const [rosaOwed] = await owedFor(page, 'Rosa Mamani');
    await page.getByTestId('lang-en').click();
    const list = page.getByRole('list', { name: 'Pending with GHL / Mercado Pago' });
    assert.equal(await list.count(), 1);
    assert.equal(await textOf(item),
      `Create the payment link Tries: 2 Next try ${limaClock(rosaOwed.nextAttemptAt)} ` +
      'Last error: Mercado Pago is unavailable: 503 Service Unavailable');
    await shot(page, '12-pending-effects-english');
  });

  it('a booking GHL has not confirmed says "Confirmando con GHL…", offers nothing to do, and shows its link once adopted', async () => {
    const page = await open();
    const row = rowOf(page, 'Lucía Flores');
    await row.waitFor();
    assert.equal(await textOf(row.getByTestId('agenda-item-sync')), 'Confirmando con GHL…');
    assert.equal(await row.getByTestId('agenda-item-sync').getAttribute('data-sync'), 'pending');
    assert.equal(await textOf(row.getByTestId('agenda-item-status')), 'Link pendiente');
    assert.equal(await rowInactive(page, 'Lucía Flores'), false, 'it may still stand: not quieted');

    await row.click();
    const note = page.getByTestId('charge-sync-pending');
    await note.waitFor();
    await eventually(async () => (await callsOf(page, 'pending_effects')).length === 1, 'the panel read what is owed');
    assert.equal(await textOf(note), 'GHL no respondió; Mostrador lo verificará automáticamente en unos minutos. El link de pago se creará si la cita existe.');
    assert.equal(await textOf(page.getByTestId('booking-sync')), 'Confirmando con GHL…');
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Link pendiente');
    assert.equal(await page.getByTestId('charge-link-pending').count(), 0, 'not the MP link note: GHL is what is awaited');
    await assertNoChargeActions(page);
    assert.equal(await page.getByTestId('charge-error').count(), 0);
    await shot(page, '13-sync-pending');

    // The reconciler finds the appointment in GHL and opens its link: the panel offers it at once.
    await page.evaluate((id) => window.__mostradorFake?.reconcile(id, 'adopted'), await bookingIdOf(page, 'Lucía Flores'));
    await page.locator('[data-testid="charge-qr"] svg').waitFor();
    await eventually(async () => (await textOf(page.getByTestId('charge-status'))) === 'Esperando pago', 'awaiting payment');
    await note.waitFor({ state: 'detached' });
    assert.equal(await page.getByTestId('booking-sync').count(), 0);
    await eventually(async () => (await row.getByTestId('agenda-item-sync').count()) === 0, 'the row chip goes');
    assert.equal(await textOf(row.getByTestId('agenda-item-status')), 'Pendiente de pago');
    assert.match(await page.getByTestId('charge-link').inputValue(), /checkout\/chg-/);
    assert.equal(await page.getByTestId('cancel-booking').count(), 1, 'GHL holds it: it can be cancelled');
    assert.equal(await page.getByTestId('check-payment').count(), 1);
    await shot(page, '14-sync-adopted');
  });

  it('a booking GHL never made is a quiet row "No agendada en GHL" whose panel says to book again', async () => {
    const page = await open();
    const row = rowOf(page, 'Pedro Chávez');
    await row.waitFor();
    assert.equal(await textOf(row.getByTestId('agenda-item-sync')), 'No agendada en GHL');
    assert.equal(await row.getByTestId('agenda-item-sync').getAttribute('data-sync'), 'failed');
    assert.equal(await textOf(row.getByTestId('agenda-item-status')), 'Cancelado');
    assert.equal(await rowInactive(page, 'Pedro Chávez'), true, 'quieted like a cancelled booking');
    assert.equal(await rowInactive(page, 'María Quispe'), false);

    await row.click();
    const note = page.getByTestId('charge-sync-failed');
    await note.waitFor();
    await eventually(async () => (await callsOf(page, 'pending_effects')).length === 1, 'the panel read what is owed');
    assert.equal(await textOf(note), 'Esta cita no quedó agendada en GHL; el cobro fue cancelado. Reserva de nuevo.');
    assert.equal(await textOf(page.getByTestId('booking-sync')), 'No agendada en GHL');
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Cancelado');
    assert.equal(await page.getByTestId('booking-status').count(), 0, 'not cancelled: never made');
    await assertNoChargeActions(page);
    assert.deepEqual(await callsOf(page, 'charge_qr'), [], 'no QR asked for a link never made');
    assert.equal(await page.getByTestId('charge-error').count(), 0);
    await shot(page, '15-sync-failed');

    await page.getByTestId('lang-en').click();
    assert.equal(await textOf(note), 'This appointment was not booked in GHL; its charge was cancelled. Book it again.');
    assert.equal(await textOf(page.getByTestId('booking-sync')), 'Not booked in GHL');
    assert.equal(await textOf(row.getByTestId('agenda-item-sync')), 'Not booked in GHL');
    assert.equal(await textOf(rowOf(page, 'Lucía Flores').getByTestId('agenda-item-sync')), 'Checking with GHL…');
    await rowOf(page, 'Lucía Flores').click();
    await eventually(async () => (await textOf(page.getByTestId('charge-sync-pending'))) ===
      'GHL did not answer; Mostrador will check again automatically in a few minutes. The payment link will be created if the appointment exists.',
    'the pending note in English');
    assert.equal(await textOf(page.getByTestId('booking-sync')), 'Checking with GHL…');
    await shot(page, '16-sync-english');
  });

  it('a create GHL left unanswered shows up pending, the same form again shows it, and the reconciler fails it', async () => {
    const page = await open();
    await page.evaluate(() => window.__mostradorFake?.leaveNextCreatePending());
    await fillBooking(page);
    await page.getByTestId('booking-submit').click();
    const banner = page.getByTestId('booking-error');
    await banner.waitFor();
    assert.match(await textOf(banner), /no responden.*checked again automatically/);
    // Stored anyway: the agenda shows it, so staff do not book the slot a second time.
    const row = rowOf(page, 'Ana Torres');
    await row.waitFor();
    assert.equal(await textOf(row.getByTestId('agenda-item-sync')), 'Confirmando con GHL…');
    assert.equal(await page.getByTestId('charge-panel').count(), 0);

    // Sending the same form again is the same request: the engine returns the stored booking.
    await page.getByTestId('booking-submit').click();
    const note = page.getByTestId('charge-sync-pending');
    await note.waitFor();
    assert.equal(await textOf(page.getByTestId('charge-patient')), 'Ana Torres');
    const keys = (await createCalls(page)).map((c) => /** @type {any} */ (c.args).request.idempotencyKey);
    assert.equal(keys.length, 2);
    assert.equal(keys[1], keys[0], 'the retry reuses the key');
    assert.equal(await rowOf(page, 'Ana Torres').count(), 1, 'one booking, not two');
    await assertNoChargeActions(page);

    // GHL holds no such appointment: the booking fails and its charge is cancelled.
    await page.evaluate((id) => window.__mostradorFake?.reconcile(id, 'failed'), await bookingIdOf(page, 'Ana Torres'));
    const failed = page.getByTestId('charge-sync-failed');
    await failed.waitFor();
    assert.equal(await textOf(failed), 'Esta cita no quedó agendada en GHL; el cobro fue cancelado. Reserva de nuevo.');
    await note.waitFor({ state: 'detached' });
    assert.equal(await textOf(page.getByTestId('charge-status')), 'Cancelado');
    assert.equal(await textOf(page.getByTestId('booking-sync')), 'No agendada en GHL');
    await eventually(async () => (await textOf(row.getByTestId('agenda-item-sync'))) === 'No agendada en GHL', 'the row says so');
    await eventually(() => rowInactive(page, 'Ana Torres'), 'the row goes quiet');
    await assertNoChargeActions(page);
    assert.deepEqual(await callsOf(page, 'charge_qr'), []);
    assert.deepEqual(await callsOf(page, 'cancel_booking'), []);
  });

  it('asks the refund question in English too', async () => {
    const page = await open();
    await page.getByTestId('lang-en').click();
    await openCharge(page, 'Jorge Huamán');
    await page.getByTestId('cancel-booking').click();
    const dialog = page.getByTestId('cancel-dialog');
    await dialog.waitFor();
    assert.equal(await page.getByRole('dialog', { name: 'Cancel the appointment?' }).count(), 1);
    const labels = await dialog.locator('label.choice').allTextContents();
    assert.deepEqual(labels.map((l) => l.replace(/\s+/g, ' ').replace(/\u00a0/g, ' ').trim()),
      ['No refund', 'Full refund (S/ 80.00)', 'Partial refund']);
    await dialog.getByTestId('cancel-back').click();
    await dialog.waitFor({ state: 'detached' });
  });

  it('switches to English and remembers it', async () => {
    const page = await open();
    await page.getByTestId('lang-en').click();
    assert.equal(await textOf(page.getByTestId('booking-submit')), 'Book and charge');
    await page.getByTestId('demo-banner').waitFor();
    assert.match(await textOf(page.getByTestId('demo-banner')), /DEMO MODE/);
    await eventually(async () => (await page.getByTestId('agenda-item').count()) === 5, 'the day’s agenda');
    const chips = await page.getByTestId('agenda-item-status').allTextContents();
    assert.deepEqual(chips.map((c) => c.trim()), ['Awaiting payment', 'Paid', 'Link pending', 'Link pending', 'Cancelled']);
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

  it('finds a patient as staff type, picks one by keyboard, and books a free slot for that contact', async () => {
    const page = await open({ latencyMs: 400 });
    const search = page.getByTestId('patient-search');
    const status = page.getByTestId('patient-search-status');
    await search.focus();
    await search.pressSequentially('ana');
    await eventually(async () => (await textOf(status)) === 'Buscando…', '"Buscando…" while GHL is asked');
    const listbox = page.getByRole('listbox', { name: 'Pacientes encontrados' });
    await listbox.waitFor();
    const options = listbox.getByRole('option');
    assert.deepEqual((await options.allTextContents()).map((o) => o.replace(/\s+/g, ' ').trim()), [
      'Ana Torres +51912345678 · ana.torres@example.com',
      'Ana Lucía Paredes analucia@example.com',
    ]);
    assert.deepEqual(await callsOf(page, 'search_patients'), [{ query: 'ana' }], 'one search for the pause in typing');
    assert.equal(await search.getAttribute('aria-expanded'), 'true');

    // Arrows move the active option (announced through aria-activedescendant); Enter picks.
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowUp');
    assert.equal(await search.getAttribute('aria-activedescendant'), 'patient-option-0');
    assert.equal(await options.first().getAttribute('aria-selected'), 'true');
    await shot(page, '30-patient-search');
    await page.keyboard.press('Enter');
    const picked = page.getByTestId('patient-picked');
    await picked.waitFor();
    assert.equal(await textOf(page.getByTestId('patient-picked-name')), 'Ana Torres');
    assert.equal(await focused(page), 'patient-change', 'focus stays in the form');
    assert.equal(await page.getByTestId('booking-patient-name').count(), 0, 'no typed name while a patient is picked');
    assert.equal((await createCalls(page)).length, 0, 'Enter picks; it does not book');

    // The free-slot picker: the calendar's free times on the day; taken ones are not offered.
    await page.getByTestId('booking-calendar').selectOption('cal-rojas');
    const start = page.getByTestId('booking-start');
    await eventually(async () => (await start.locator('option').count()) > 0, 'free slots of Dra. Rojas');
    const labels = await start.locator('option').allTextContents();
    assert.equal(labels[0], '08:00–08:30');
    for (const taken of ['09:00', '11:30']) assert.ok(!labels.some((l) => l.startsWith(taken)), `${taken} is taken`);
    assert.ok(labels.some((l) => l.startsWith('13:00')), 'a time GHL never booked (failed) is free');
    await start.selectOption('10:00');
    assert.equal(await page.getByTestId('booking-end').inputValue(), '10:30', 'the end follows the slot');
    await page.getByTestId('booking-amount').fill('80');
    await shot(page, '31-patient-picked-slot');
    await page.getByTestId('booking-submit').click();

    await eventually(async () => (await textOf(page.getByTestId('charge-patient'))) === 'Ana Torres', 'charge for Ana Torres');
    const [call] = await createCalls(page);
    const request = /** @type {any} */ (call.args).request;
    assert.equal(request.contactId, 'CntAnaTorres00000001');
    assert.equal(request.patientName, 'Ana Torres');
    assert.equal(request.patientPhone, '+51912345678');
    assert.deepEqual([request.startTime, request.endTime], ['10:00', '10:30']);
    await eventually(async () => !(await start.locator('option').allTextContents()).some((o) => o.startsWith('10:00')),
      'the booked time is no longer offered');
    await page.getByTestId('patient-search').waitFor();
    assert.equal(await page.getByTestId('patient-picked').count(), 0, 'the form is ready for the next patient');
  });

  it('"Nuevo paciente": checks the fields, then says when GHL already had the person ("Ya existía")', async () => {
    const page = await open();
    const search = page.getByTestId('patient-search');
    await search.fill('Quispe Z');
    await eventually(async () => (await textOf(page.getByTestId('patient-search-status'))) === 'Sin resultados', 'Sin resultados');

    await page.getByTestId('patient-new').click();
    const name = page.getByTestId('patient-new-name');
    assert.equal(await name.inputValue(), 'Quispe Z', 'starts from what was searched');
    assert.equal(await focused(page), 'patient-new-name');
    await name.fill('María Quispe');
    // Enter saves the patient (never the booking); without a phone or email the client says so.
    await page.keyboard.press('Enter');
    assert.match(await textOf(page.getByTestId('patient-new-phone-error')), /teléfono o un email/);
    assert.deepEqual(await callsOf(page, 'create_patient'), []);
    assert.equal((await createCalls(page)).length, 0);

    await page.getByTestId('patient-new-phone').fill('+51 987 111 222');
    await page.getByTestId('patient-new-save').click();
    const note = page.getByTestId('patient-note');
    await note.waitFor();
    assert.equal(await textOf(note), 'Ya existía: se usará esa ficha.');
    assert.equal(await textOf(page.getByTestId('patient-picked-name')), 'María Quispe');
    assert.equal(await page.getByTestId('patient-picked').getAttribute('data-contact-id'), 'CntMariaQuispe000001');
    assert.deepEqual(await callsOf(page, 'create_patient'), [{ name: 'María Quispe', phone: '+51 987 111 222', email: null }]);
    assert.equal((await page.evaluate(() => window.__mostradorFake?.patients() ?? [])).length, 4, 'no second contact');
    await shot(page, '32-patient-existing');

    // A new person is made, and a server VALIDATION lands under its field.
    await page.getByTestId('patient-change').click();
    await page.getByTestId('patient-new').click();
    await page.getByTestId('patient-new-name').fill('Carmen Díaz');
    await page.getByTestId('patient-new-phone').fill('+51 999');
    await page.evaluate(() => window.__mostradorFake?.failNext('create_patient',
      { code: 'VALIDATION', message: 'not a phone number', details: { field: 'phone' } }));
    await page.getByTestId('patient-new-save').click();
    const phoneError = page.getByTestId('patient-new-phone-error');
    await phoneError.waitFor();
    assert.match(await textOf(phoneError), /Revisa este dato.*not a phone number/);
    await page.getByTestId('patient-new-phone').fill('+51 911 222 333');
    await page.getByTestId('patient-new-save').click();
    await eventually(async () => (await textOf(page.getByTestId('patient-note'))) === 'Paciente creado en GHL.', 'created');
    assert.equal(await textOf(page.getByTestId('patient-picked-name')), 'Carmen Díaz');
  });

  it('errors by their code: a refused search, unreadable free times, and a day with none free', async () => {
    const page = await open();
    await page.evaluate(() => window.__mostradorFake?.failNext('search_patients', { code: 'RATE_LIMITED', message: '429 from GHL' }));
    await page.getByTestId('patient-search').fill('luis');
    const searchError = page.getByTestId('patient-search-error');
    await searchError.waitFor();
    assert.match(await textOf(searchError), /Demasiadas solicitudes seguidas/);
    assert.equal(await searchError.getAttribute('data-code'), 'RATE_LIMITED');
    // Typing on asks again.
    await page.getByTestId('patient-search').fill('luis r');
    await page.getByRole('option', { name: /Luis Rojas Chávez/ }).waitFor();
    assert.equal(await searchError.count(), 0);

    const day = await page.getByTestId('booking-date').inputValue();
    await page.evaluate(() => window.__mostradorFake?.failNext('free_slots', { code: 'PROVIDER_UNAVAILABLE', message: 'GHL 503' }));
    await page.getByTestId('booking-calendar').selectOption('cal-paredes');
    const slotsError = page.getByTestId('booking-slots-error');
    await slotsError.waitFor();
    assert.match(await textOf(slotsError), /GoHighLevel o Mercado Pago no responden/);
    assert.equal(await page.getByTestId('booking-start').isDisabled(), true, 'nothing to pick');

    await page.evaluate((d) => window.__mostradorFake?.closeDay('cal-rojas', d), day);
    await page.getByTestId('booking-calendar').selectOption('cal-rojas');
    const status = page.getByTestId('booking-slots-status');
    await eventually(async () => (await status.getAttribute('data-kind')) === 'empty', 'empty day');
    assert.equal(await textOf(status), 'No hay horarios libres este día en este calendario.');
    assert.equal(await slotsError.count(), 0);
    await page.getByTestId('booking-patient-name').fill('Ana Torres');
    await page.getByTestId('booking-amount').fill('80');
    await page.getByTestId('booking-submit').click();
    assert.match(await textOf(page.getByTestId('booking-start-error')), /Elige un horario libre/);
    assert.equal((await createCalls(page)).length, 0);
    await shot(page, '33-slots-empty');
  });

  it('"Llegó" and "No asistió" on a booking that stands; the agenda shows it; none for one GHL does not hold', async () => {
    const page = await open();
    await openCharge(page, 'María Quispe');
    const showed = page.getByTestId('attendance-showed');
    const noshow = page.getByTestId('attendance-noshow');
    assert.equal(await page.getByRole('group', { name: 'Asistencia' }).count(), 1);
    assert.equal(await showed.getAttribute('aria-pressed'), 'false');
    await showed.click();
    const row = rowOf(page, 'María Quispe');
    await eventually(async () => (await row.getByTestId('agenda-item-attendance').count()) === 1, 'agenda shows attendance');
    assert.equal(await textOf(row.getByTestId('agenda-item-attendance')), 'Llegó');
    assert.equal(await showed.getAttribute('aria-pressed'), 'true');
    assert.equal(await textOf(page.getByTestId('booking-attendance')), 'Llegó');
    assert.deepEqual(await callsOf(page, 'mark_attendance'), [{ bookingId: await bookingIdOf(page, 'María Quispe'), attendance: 'showed' }]);
    await shot(page, '34-attendance-showed');

    // By keyboard: the other choice, a Tab away.
    await showed.focus();
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'attendance-noshow');
    await page.keyboard.press('Enter');
    await eventually(async () => (await textOf(row.getByTestId('agenda-item-attendance'))) === 'No asistió', 'No asistió');
    assert.equal(await noshow.getAttribute('aria-pressed'), 'true');

    // Refused (cancelled at another desk meanwhile): the panel says so by its code.
    await page.evaluate(() => window.__mostradorFake?.failNext('mark_attendance', { code: 'CONFLICT', message: 'the booking is cancelled' }));
    await showed.click();
    const error = page.getByTestId('charge-error');
    await error.waitFor();
    assert.equal(await error.getAttribute('data-code'), 'CONFLICT');

    // Pending with GHL, never made in GHL: nothing to mark.
    await rowOf(page, 'Lucía Flores').click();
    await page.getByTestId('charge-sync-pending').waitFor();
    assert.equal(await page.getByTestId('attendance').count(), 0);
    await rowOf(page, 'Pedro Chávez').click();
    await page.getByTestId('charge-sync-failed').waitFor();
    assert.equal(await page.getByTestId('attendance').count(), 0);
  });

  it('says the patient picker and attendance in English', async () => {
    const page = await open();
    await page.getByTestId('lang-en').click();
    await page.getByTestId('patient-search').fill('zz top');
    await eventually(async () => (await textOf(page.getByTestId('patient-search-status'))) === 'No results', 'No results');
    assert.equal(await textOf(page.getByTestId('patient-new')), 'New patient');
    await openCharge(page, 'María Quispe');
    assert.equal(await textOf(page.getByTestId('attendance-showed')), 'Arrived');
    assert.equal(await textOf(page.getByTestId('attendance-noshow')), 'No-show');
  });

  it('"Reprogramar" moves a booking to a free time on another day; the agenda follows and the charge stays as it was', async () => {
    const page = await open();
    await openCharge(page, 'María Quispe');
    const chargeBefore = await page.evaluate(() => window.__mostradorFake?.bookings().find((b) => b.patientName === 'María Quispe')?.charge);
    await page.getByTestId('reschedule-booking').click();
    const dialog = page.getByTestId('reschedule-dialog');
    await dialog.waitFor();
    assert.equal(await focused(page), 'reschedule-day', 'focus moves into the dialog');
    const day = page.getByTestId('reschedule-day');
    const status = page.getByTestId('reschedule-slots-status');
    const slot = page.getByTestId('reschedule-slot');
    await eventually(async () => (await status.getAttribute('data-kind')) === 'ready', 'today’s free times');
    const today = await day.inputValue();
    // Her own 09:00 and Rosa's 11:30 are taken today; another calendar's bookings are not.
    const offered = (await slot.locator('option').allTextContents()).map((o) => o.trim());
    assert.ok(!offered.includes('09:00–09:30') && !offered.includes('11:30–12:00') && offered.includes('10:00–10:30'), offered.join(' '));

    const tomorrow = new Date(Date.parse(`${today}T12:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    await day.fill(tomorrow);
    await eventually(async () => (await status.getAttribute('data-kind')) === 'ready' &&
      (await slot.locator('option').allTextContents()).some((o) => o.startsWith('09:00')), 'tomorrow’s free times, 09:00 among them');
    await slot.selectOption('16:00');
    await shot(page, '35-reschedule-dialog');
    await dialog.getByTestId('reschedule-confirm').click();
    await dialog.waitFor({ state: 'detached' });

    const [call] = await callsOf(page, 'reschedule_booking');
    const id = await bookingIdOf(page, 'María Quispe');
    assert.deepEqual(call, { bookingId: id, startsAt: `${tomorrow}T21:00:00.000Z`, endsAt: `${tomorrow}T21:30:00.000Z` });
    await page.getByTestId('reschedule-done').waitFor();
    assert.match(await textOf(page.getByTestId('reschedule-done')), /Cita reprogramada: .*16:00–16:30/);
    assert.match(await textOf(page.getByTestId('charge-panel').locator('.when')), /16:00–16:30/);
    // The agenda shows her new day, with the same charge chip.
    await eventually(async () => (await page.getByTestId('agenda-date').inputValue()) === tomorrow, 'the agenda on her new day');
    const row = rowOf(page, 'María Quispe');
    await eventually(async () => /16:00–16:30/.test(await textOf(row)), 'her row at 16:00');
    assert.equal(await textOf(row.getByTestId('agenda-item-status')), 'Pendiente de pago');
    assert.equal(await page.getByTestId('charge-status').getAttribute('data-status'), 'open');
    const chargeAfter = await page.evaluate(() => window.__mostradorFake?.bookings().find((b) => b.patientName === 'María Quispe')?.charge);
    assert.deepEqual(chargeAfter, chargeBefore, 'the same charge, link and status');
    assert.equal(await focused(page), 'reschedule-booking', 'focus back on its button');
    await shot(page, '36-rescheduled');

    // Today her old time is free again.
    await page.getByTestId('agenda-today').click();
    await eventually(async () => (await page.getByTestId('agenda-item').count()) === 4, 'four bookings left today');
  });

  it('"Reprogramar" onto a time just taken: the list is read again without it and the dialog says so', async () => {
    const page = await open();
    await openCharge(page, 'María Quispe');
    await page.getByTestId('reschedule-booking').click();
    const dialog = page.getByTestId('reschedule-dialog');
    const slot = page.getByTestId('reschedule-slot');
    await eventually(async () => (await page.getByTestId('reschedule-slots-status').getAttribute('data-kind')) === 'ready', 'free times');
    await slot.selectOption('10:00');
    await page.evaluate(() => {
      const day = /** @type {HTMLInputElement} */ (document.querySelector('[data-testid="reschedule-day"]')).value;
      window.__mostradorFake?.bookElsewhere('cal-rojas', day, '10:00', '10:30', 'Otra Paciente');
    });
    await dialog.getByTestId('reschedule-confirm').click();
    const error = page.getByTestId('reschedule-error');
    await error.waitFor();
    assert.equal(await error.getAttribute('data-code'), 'SLOT_TAKEN');
    assert.match(await textOf(error), /Ese horario se acaba de ocupar/);
    await eventually(async () => !(await slot.locator('option').allTextContents()).some((o) => o.startsWith('10:00')),
      '10:00 no longer offered');
    assert.notEqual(await slot.inputValue(), '10:00');
    assert.equal(await dialog.isVisible(), true, 'the dialog stays open');
    assert.match(await textOf(page.getByTestId('charge-panel').locator('.when')), /09:00–09:30/);
    assert.equal(await textOf(rowOf(page, 'María Quispe').getByTestId('agenda-item-status')), 'Pendiente de pago');
    await shot(page, '37-reschedule-slot-taken');
    await dialog.getByTestId('reschedule-back').click();
    await dialog.waitFor({ state: 'detached' });
  });

  it('"Enviar link" by WhatsApp says it went; "Abrir WhatsApp" opens a wa.me link and sends nothing', async () => {
    const page = await open();
    await page.evaluate(() => {
      const opened = /** @type {string[]} */ ([]);
      (/** @type {any} */ (window)).__opened = opened;
      window.open = (url) => (opened.push(String(url)), null);
    });
    await openCharge(page, 'María Quispe');
    const result = page.getByTestId('send-result');
    await page.getByTestId('send-whatsapp').click();
    await eventually(async () => (await textOf(result)) === 'Link enviado por WhatsApp', 'sent by WhatsApp');
    assert.equal(await result.getAttribute('data-channel'), 'whatsapp');
    const messages = await page.evaluate(() => window.__mostradorFake?.messages());
    assert.deepEqual(messages, [{ bookingId: await bookingIdOf(page, 'María Quispe'), channel: 'whatsapp', to: '+51987111222' }]);
    await shot(page, '38-link-sent-whatsapp');

    await page.getByTestId('send-email').click();
    await eventually(async () => (await textOf(result)) === 'Link enviado por email', 'sent by email');

    await page.getByTestId('send-open-whatsapp').click();
    await eventually(async () => (await page.evaluate(() => (/** @type {any} */ (window)).__opened.length)) === 1, 'wa.me opened');
    const [url] = await page.evaluate(() => (/** @type {any} */ (window)).__opened);
    assert.match(url, /^https:\/\/wa\.me\/51987111222\?text=Hola%20/);
    assert.equal((await page.evaluate(() => window.__mostradorFake?.messages()))?.length, 2, '"Abrir WhatsApp" sends nothing');

    // A paid charge has no link to send.
    await rowOf(page, 'Jorge Huamán').click();
    await page.getByTestId('charge-status').waitFor();
    assert.equal(await page.getByTestId('send-link').count(), 0);
  });

  it('"Enviar link" refused: no phone in GHL says what to do; a charge paid meanwhile is shown paid', async () => {
    const page = await open();
    await fillBooking(page, { name: 'Carmen Ruiz', phone: '' });
    await page.getByTestId('booking-submit').click();
    await page.locator('[data-testid="charge-qr"] svg').waitFor();
    await page.getByTestId('send-whatsapp').click();
    const error = page.getByTestId('send-error');
    await error.waitFor();
    assert.equal(await error.getAttribute('data-code'), 'VALIDATION');
    assert.match(await textOf(error), /^El paciente no tiene teléfono en GHL/);
    assert.equal(await textOf(page.getByTestId('send-result')), '');
    assert.deepEqual(await page.evaluate(() => window.__mostradorFake?.messages()), []);
    await shot(page, '39-link-send-no-phone');

    const chargeId = await page.getByTestId('charge-panel').getAttribute('data-charge-id');
    await page.evaluate((id) => window.__mostradorFake?.setStatusSilently(String(id), 'paid'), chargeId);
    await page.getByTestId('send-sms').click();
    await eventually(async () => (await page.getByTestId('send-error').getAttribute('data-code')) === 'CONFLICT', 'CONFLICT');
    assert.match(await textOf(page.getByTestId('send-error')), /ya no está pendiente de pago/);
    await eventually(async () => (await page.getByTestId('charge-status').getAttribute('data-status')) === 'paid', 'shown paid');
    assert.equal(await page.getByTestId('send-link').count(), 0, 'nothing left to send');
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
    await eventually(async () => (await page.getByTestId('agenda-item').count()) === 5, 'back to today');
    assert.equal(await textOf(label), today);
  });

  it('fits a 1024x700 window without sideways scrolling', async () => {
    const page = await open({ viewport: { width: 1024, height: 700 } });
    await instantScrolls(page);
    await fillBooking(page);
    await page.getByTestId('booking-submit').click();
    await page.locator('[data-testid="charge-qr"] svg').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal overflow (${overflow}px)`);
    await shot(page, '06-narrow-1024x700');
  });
});
