#!/usr/bin/env node
// Desktop end-to-end test of Mostrador (Tauri 2) in DEMO mode, driven through tauri-driver's
// WebDriver HTTP API with plain `fetch` (Node 20, no npm dependencies).
//
// Flow: open a session -> "MODO DEMO" banner -> the patient search lists a seeded contact -> book
// tomorrow's free 10:00-10:30 slot (America/Lima), S/ 80.00
// -> QR (inline <svg>) + amount + "Esperando pago" -> "Simular pago" -> "Pagado" live, without a
// page reload -> the agenda item shows the paid state too -> "Cancelar cita" with "Devolución total"
// -> "Cancelada" and "Reembolsado" in the panel and the agenda (a real refund at the sandbox).
// Screenshots are taken of the whole X screen with `xwd | convert` (WebDriver's screenshot command
// hangs under WebKitWebDriver).
//
// Usually run by scripts/desktop-e2e.sh, which starts Xvfb and tauri-driver. Environment:
//   TAURI_DRIVER_URL   WebDriver endpoint (default http://127.0.0.1:$TAURI_DRIVER_PORT, port 4444)
//   MOSTRADOR_APP      absolute path of the app binary (default $CARGO_TARGET_DIR/debug/mostrador,
//                      CARGO_TARGET_DIR defaulting to /var/tmp/mostrador-target)
//   TEST_OUTPUT_DIR    where screenshots go (default test-output/desktop/ at the repo root)
//   DISPLAY            the X display to capture (set by xvfb-run)
//
// The last line printed is always `desktop-e2e: N passed, M failed`; the exit code is 0 only if
// every step passed.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');

const DRIVER = (process.env.TAURI_DRIVER_URL || `http://127.0.0.1:${process.env.TAURI_DRIVER_PORT || 4444}`).replace(/\/$/, '');
const TARGET_DIR = process.env.CARGO_TARGET_DIR || '/var/tmp/mostrador-target';
const APP = path.resolve(process.env.MOSTRADOR_APP || path.join(TARGET_DIR, 'debug', 'mostrador'));
const OUT = path.resolve(REPO, process.env.TEST_OUTPUT_DIR || path.join('test-output', 'desktop'));
const TIMEZONE = 'America/Lima';

const WHOLE_RUN_MS = 170_000; // the whole script stays under 3 minutes, whatever happens
const REQUEST_MS = 30_000; // one ordinary WebDriver request
const NEW_SESSION_MS = 60_000; // starting the app can be slow on a loaded 2-core machine
const DELETE_SESSION_MS = 15_000;
const PAID_WAIT_MS = 20_000;
const REFUND_WAIT_MS = 20_000;

const ELEMENT_KEY = 'element-6066-11e4-a52e-4f735466cecf';
const PATIENT = `Ana E2E ${Date.now().toString(36).slice(-5)}`;

let sessionId = null;
let passed = 0;
let failed = 0;
let skipped = 0;
let finishing = false;

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const normalise = (text) => String(text ?? '').replace(/\s+/gu, ' ').trim(); // \s covers U+00A0
const byTestId = (id) => `[data-testid="${id}"]`;

class StepError extends Error {}
function fail(message) {
  throw new StepError(message);
}

function log(message) {
  process.stdout.write(`${message}\n`);
}

/** One WebDriver call; never waits longer than `timeoutMs`. */
async function wd(method, route, body, timeoutMs = REQUEST_MS) {
  const url = `${DRIVER}${route}`;
  const started = Date.now();
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json; charset=utf-8' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const why = e?.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000}s` : e?.cause?.message || e?.message || String(e);
    throw new Error(`WebDriver ${method} ${route} failed: ${why}`);
  }
  const text = await response.text();
  const took = Date.now() - started;
  if (took > 2000 && process.env.E2E_DEBUG) log(`  (slow WebDriver call: ${method} ${route.replace(/^\/session\/[^/]+/, '')} took ${(took / 1000).toFixed(1)}s)`);
  let json;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    throw new Error(`WebDriver ${method} ${route}: HTTP ${response.status}, not JSON: ${text.slice(0, 300)}`);
  }
  const value = json?.value;
  if (!response.ok || (value && typeof value === 'object' && 'error' in value && value.error)) {
    const err = new Error(`WebDriver ${method} ${route}: HTTP ${response.status} ${value?.error ?? ''}: ${normalise(value?.message ?? text).slice(0, 400)}`);
    err.wdError = value?.error;
    throw err;
  }
  return value;
}

const session = (route) => `/session/${sessionId}${route}`;

/** Runs a synchronous script in the page and returns its value. */
function exec(script, args = [], timeoutMs = REQUEST_MS) {
  return wd('POST', session('/execute/sync'), { script, args }, timeoutMs);
}

/** Finds the first element matching `css`, or null. */
async function find(css) {
  const found = await wd('POST', session('/elements'), { using: 'css selector', value: css });
  return Array.isArray(found) && found.length > 0 ? found[0][ELEMENT_KEY] : null;
}

/** Polls until `probe` returns a truthy value; fails with `message` (plus the last seen state) on timeout. */
async function waitFor(probe, { timeoutMs = 15_000, intervalMs = 250, message }) {
  const deadline = Date.now() + timeoutMs;
  let last;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (e) {
      if (e instanceof StepError) throw e;
      lastError = e;
    }
    await sleep(intervalMs);
  }
  const detail = lastError ? ` (last error: ${lastError.message})` : last !== undefined && last !== null && last !== false ? ` (last seen: ${JSON.stringify(last)})` : '';
  fail(`${message} — gave up after ${timeoutMs / 1000}s${detail}`);
}

async function waitForElement(css, timeoutMs, what) {
  return waitFor(() => find(css), { timeoutMs, message: `${what} (${css}) never appeared` });
}

async function text(elementId) {
  return normalise(await wd('GET', session(`/element/${elementId}/text`)));
}

async function click(elementId) {
  await wd('POST', session(`/element/${elementId}/click`), {});
}

/**
 * Scrolls an element of a scrolling column into view first (WebKitWebDriver does not), waits
 * until a click at its centre would land on it (on screen, not covered), then clicks it.
 */
async function clickInView(elementId) {
  const element = { [ELEMENT_KEY]: elementId };
  await exec("arguments[0].scrollIntoView({ block: 'center' }); return true;", [element]);
  await waitFor(
    () =>
      exec(
        `const el = arguments[0];
         const r = el.getBoundingClientRect();
         const x = r.left + r.width / 2;
         const y = r.top + r.height / 2;
         if (!r.width || !r.height || x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) return false;
         const hit = document.elementFromPoint(x, y);
         return !!hit && (hit === el || el.contains(hit));`,
        [element],
      ),
    { timeoutMs: 10_000, intervalMs: 50, message: 'the element never came into view uncovered to be clicked' },
  );
  await click(elementId);
}

/** Clears a text field and types into it (real key events), then checks the field holds the text. */
async function typeInto(testid, value) {
  const el = await find(byTestId(testid));
  if (!el) fail(`field ${testid} is not on the page`);
  await wd('POST', session(`/element/${el}/clear`), {});
  await wd('POST', session(`/element/${el}/value`), { text: value });
  const got = await exec('return document.querySelector(arguments[0]).value;', [byTestId(testid)]);
  if (got !== value) fail(`field ${testid} holds ${JSON.stringify(got)} after typing ${JSON.stringify(value)}`);
}

/**
 * Sets an <input>/<select> value the way a user's edit would look to Svelte 5 (bind:value listens to
 * `input` on inputs and `change` on selects), then returns the value the element ends up with.
 */
async function setValue(testid, value) {
  return exec(
    `const el = document.querySelector(arguments[0]);
     if (!el) return { missing: true };
     if (el.tagName === 'SELECT' && ![...el.options].some((o) => o.value === arguments[1]))
       return { noOption: [...el.options].map((o) => o.value) };
     el.focus();
     el.value = arguments[1];
     el.dispatchEvent(new Event('input', { bubbles: true }));
     el.dispatchEvent(new Event('change', { bubbles: true }));
     el.blur();
     return { value: el.value };`,
    [byTestId(testid), value],
  );
}

async function setAndCheck(testid, value) {
  const result = await setValue(testid, value);
  if (result?.missing) fail(`field ${testid} is not on the page`);
  if (result?.noOption) fail(`select ${testid} has no option ${JSON.stringify(value)}; options: ${result.noOption.join(', ')}`);
  // Read the value back: it must not have been reset by the component. No pause needed: Svelte
  // flushes its updates in the microtasks that end the script above, before the page runs the
  // next WebDriver command; later resets are caught by the final check before submitting.
  const got = await exec('return document.querySelector(arguments[0]).value;', [byTestId(testid)]);
  if (got !== value) fail(`field ${testid} holds ${JSON.stringify(got)} after setting it to ${JSON.stringify(value)}`);
}

/** Tomorrow's date (YYYY-MM-DD) in the clinic's time zone. Lima has no DST, so +24 h is safe. */
function tomorrowIn(timeZone, days = 1) {
  // Node ships full ICU, where en-CA is YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(
    new Date(Date.now() + days * 24 * 3600 * 1000),
  );
}

/** Captures the whole X screen into $TEST_OUTPUT_DIR/<name>.png (xwd | convert, never WebDriver). */
function screenshot(name) {
  const file = path.join(OUT, `${name}.png`);
  const display = process.env.DISPLAY;
  if (!display) {
    log(`  (screenshot ${name} skipped: DISPLAY is not set)`);
    return null;
  }
  const convert = existsSync('/usr/bin/convert') ? '/usr/bin/convert' : 'convert';
  try {
    mkdirSync(OUT, { recursive: true });
    execFileSync('sh', ['-c', 'xwd -root -display "$DISPLAY" -silent | "$1" xwd:- "png:$2"', 'sh', convert, file], {
      timeout: 20_000,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (!existsSync(file) || statSync(file).size === 0) throw new Error('no file written');
    log(`  screenshot: ${path.relative(REPO, file) || file}`);
    return file;
  } catch (e) {
    log(`  (screenshot ${name} failed: ${normalise(e.stderr?.toString() || e.message).slice(0, 300)})`);
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Steps. Each depends on the previous ones, so after the first failure the rest are skipped.

const steps = [];
const step = (name, fn) => steps.push({ name, fn });

let bookingDate;
let paidMarker;

step('tauri-driver answers /status', async () => {
  const status = await wd('GET', '/status', undefined, 10_000).catch((e) => fail(`tauri-driver is not reachable at ${DRIVER}: ${e.message}`));
  if (status && status.ready === false) fail(`tauri-driver says it is not ready: ${JSON.stringify(status)}`);
});

step('a WebDriver session starts the app', async () => {
  if (!existsSync(APP)) fail(`the app binary ${APP} does not exist (build it: cargo build -p mostrador)`);
  const value = await wd(
    'POST',
    '/session',
    { capabilities: { alwaysMatch: { 'tauri:options': { application: APP } } } },
    NEW_SESSION_MS,
  );
  sessionId = value?.sessionId;
  if (!sessionId) fail(`new session returned no sessionId: ${JSON.stringify(value).slice(0, 300)}`);
  // Cap implicit waits at zero: every wait in this script is an explicit, bounded poll.
  await wd('POST', session('/timeouts'), { implicit: 0, script: 20_000, pageLoad: 30_000 }).catch(() => {});
});

step('the "MODO DEMO" banner shows', async () => {
  const banner = await waitForElement(byTestId('demo-banner'), 45_000, 'the demo banner');
  const label = await text(banner);
  if (!/MODO DEMO/i.test(label)) fail(`the demo banner reads ${JSON.stringify(label)}, expected it to contain "MODO DEMO"`);
});

step('the booking form is ready (calendars loaded)', async () => {
  await waitForElement(byTestId('booking-form'), 15_000, 'the booking form');
  const calendars = await waitFor(
    () =>
      exec(
        `const s = document.querySelector(arguments[0]);
         const opts = s ? [...s.options].filter((o) => o.value) : [];
         return opts.length ? opts.map((o) => ({ value: o.value, label: o.textContent.trim() })) : null;`,
        [byTestId('booking-calendar')],
      ),
    { timeoutMs: 20_000, message: 'the calendar select never got a calendar to choose' },
  );
  const wanted = calendars.find((c) => /consulta general/i.test(c.label)) ?? calendars[0];
  await setAndCheck('booking-calendar', wanted.value);
  // The form fills its default date from the clinic's time zone once app_status has answered; wait
  // for that answer (the top bar shows the time zone) so the default cannot overwrite our date.
  await waitForElement(byTestId('clinic-timezone'), 15_000, "the clinic's time zone in the top bar");
  // The start-up agenda loads today's day in the clinic's zone without an error. That load starts
  // as the time zone arrives (`start()` in ui/src/lib/desk.svelte.ts) and the list stays
  // aria-busy until it ends: wait for its end, not for a while.
  const startup = await waitFor(
    () =>
      exec(
        `const list = document.querySelector('[data-testid="agenda-list"]');
         if (!list || list.getAttribute('aria-busy') === 'true') return null;
         const err = document.querySelector('[data-testid="agenda-error"]');
         return { agendaError: err ? err.textContent.replace(/\\s+/g, ' ').trim() : null,
                  bookingDate: document.querySelector('[data-testid="booking-date"]').value,
                  agendaDate: document.querySelector('[data-testid="agenda-date"]')?.value ?? null };`,
      ),
    { timeoutMs: 20_000, message: "the start-up agenda never finished loading (agenda-list stayed aria-busy)" },
  );
  const today = tomorrowIn(TIMEZONE, 0);
  if (startup.agendaError || startup.bookingDate !== today) {
    throw new Error(`at start-up the agenda shows an error ${JSON.stringify(startup.agendaError)}, ` +
        `booking-date default is ${JSON.stringify(startup.bookingDate)} (expected ${today}), agenda-date is ${JSON.stringify(startup.agendaDate)}`);
  }
});

step('the patient search finds a seeded contact as you type', async () => {
  // The real search_patients against the sandbox's GHL contacts; nothing is picked, so the
  // booking below goes the typed-name way (a new contact made at booking time).
  await typeInto('patient-search', 'ana.torres');
  const found = await waitFor(
    () =>
      exec(
        `const options = [...document.querySelectorAll('[data-testid="patient-option"]')];
         return options.length ? options.map((o) => o.textContent.replace(/\\s+/g, ' ').trim()) : null;`,
      ),
    { timeoutMs: 20_000, message: 'the patient search never listed a result for "ana.torres"' },
  );
  if (!found.some((o) => /Ana Torres/.test(o))) fail(`the search for "ana.torres" listed ${JSON.stringify(found)}`);
  screenshot('00-patient-search');
  // Empty the box as a user would (Svelte listens to `input`): the list closes.
  await setValue('patient-search', '');
  await waitFor(() => exec('return !document.querySelector(\'[data-testid="patient-option"]\');'),
    { timeoutMs: 10_000, message: 'the result list stayed open after the search box was emptied' });
});

step('fill the form: tomorrow, the free 10:00–10:30 slot, S/ 80.00', async () => {
  bookingDate = tomorrowIn(TIMEZONE);
  await typeInto('booking-patient-name', PATIENT);
  await typeInto('booking-patient-phone', '+51 987 654 321');
  await setAndCheck('booking-date', bookingDate);
  // The picker reads the calendar's free slots for the new day (free_slots); 10:00 is free tomorrow.
  const offered = await waitFor(
    () =>
      exec(
        `const s = document.querySelector(arguments[0]);
         const opts = s ? [...s.options].map((o) => ({ value: o.value, label: o.textContent.trim() })) : [];
         return opts.some((o) => o.value === '10:00') ? opts : null;`,
        [byTestId('booking-start')],
      ),
    { timeoutMs: 20_000, message: `the free-slot picker never offered 10:00 on ${bookingDate}` },
  );
  const ten = offered.find((o) => o.value === '10:00');
  if (ten.label !== '10:00–10:30') fail(`the 10:00 slot reads ${JSON.stringify(ten.label)}, expected "10:00–10:30"`);
  await setAndCheck('booking-start', '10:00');
  await typeInto('booking-amount', '80.00');
  // Check once more that nothing was reset by a late effect; the end follows the slot.
  const values = await exec(
    `return Object.fromEntries(arguments[0].map((id) => [id, document.querySelector('[data-testid="' + id + '"]').value]));`,
    [['booking-patient-name', 'booking-date', 'booking-start', 'booking-end', 'booking-amount']],
  );
  const expected = { 'booking-patient-name': PATIENT, 'booking-date': bookingDate, 'booking-start': '10:00', 'booking-end': '10:30', 'booking-amount': '80.00' };
  for (const [id, want] of Object.entries(expected)) {
    if (values[id] !== want) fail(`before submitting, ${id} holds ${JSON.stringify(values[id])} instead of ${JSON.stringify(want)}`);
  }
});

step('submit the booking: the charge panel shows the QR', async () => {
  const submit = await find(byTestId('booking-submit'));
  if (!submit) fail('the submit button (booking-submit) is not on the page');
  await click(submit);
  await waitFor(
    async () => {
      const error = await find(`${byTestId('booking-error')}, [data-testid$="-error"].field-error`);
      if (error) fail(`the booking was refused: ${await text(error)}`);
      return exec(
        `const qr = document.querySelector(arguments[0]);
         const panel = document.querySelector(arguments[1]);
         const who = panel && panel.querySelector('[data-testid="charge-patient"]');
         return !!(qr && qr.querySelector('svg') && who && who.textContent.trim() === arguments[2]);`,
        [byTestId('charge-qr'), byTestId('charge-panel'), PATIENT],
      );
    },
    { timeoutMs: 30_000, message: `the charge panel for ${PATIENT} with a QR <svg> inside charge-qr never appeared` },
  );
  const svgSize = await exec(
    `const r = document.querySelector(arguments[0] + ' svg').getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)];`,
    [byTestId('charge-qr')],
  );
  if (!(svgSize[0] > 50 && svgSize[1] > 50)) fail(`the QR svg is not visibly rendered (size ${svgSize.join('x')})`);
});

step('the charge shows "S/ 80.00" and "Esperando pago"', async () => {
  const amount = await text(await find(byTestId('charge-amount')));
  if (amount !== 'S/ 80.00') fail(`charge-amount reads ${JSON.stringify(amount)}, expected "S/ 80.00"`);
  const status = await text(await find(byTestId('charge-status')));
  if (status !== 'Esperando pago') fail(`charge-status reads ${JSON.stringify(status)}, expected "Esperando pago"`);
  screenshot('01-booked-qr');
});

step('"Simular pago" turns the status to "Pagado" live (no reload)', async () => {
  const button = await waitForElement(byTestId('simulate-payment'), 10_000, 'the simulate-payment button');
  // A marker on window: if the page reloads, it disappears.
  paidMarker = `e2e-${Math.random().toString(36).slice(2)}`;
  await exec('window.__mostradorE2E = arguments[0]; return true;', [paidMarker]);
  await click(button);
  await waitFor(
    async () => {
      const el = await find(byTestId('charge-status'));
      return el && (await text(el)) === 'Pagado';
    },
    { timeoutMs: PAID_WAIT_MS, intervalMs: 300, message: 'charge-status never read "Pagado" after simulating the payment' },
  );
  const marker = await exec('return window.__mostradorE2E ?? null;');
  if (marker !== paidMarker) fail('the page was reloaded while waiting for "Pagado" (the window marker is gone)');
  const dataStatus = await exec('return document.querySelector(arguments[0]).dataset.status;', [byTestId('charge-status')]);
  if (dataStatus !== 'paid') fail(`charge-status has data-status=${JSON.stringify(dataStatus)}, expected "paid"`);
  if (await find(byTestId('simulate-payment'))) fail('the simulate-payment button is still shown for a paid charge');
});

step('the agenda item shows the paid state too', async () => {
  let last = null;
  const probe = async () => {
    last = await exec(
      `const items = [...document.querySelectorAll(arguments[0] + ' ' + arguments[1])];
       const mine = items.find((i) => i.querySelector('.patient')?.textContent.trim() === arguments[2]);
       const day = document.querySelector('[data-testid="agenda-date"]')?.value;
       if (!mine) return { found: false, day, items: items.length };
       const chip = mine.querySelector('[data-testid="agenda-item-status"]');
       const squash = (t) => (t ?? '').replace(/\\s+/g, ' ').trim();
       return { found: true, day, time: squash(mine.querySelector('.time')?.textContent),
                status: chip?.dataset.status ?? null, label: squash(chip?.textContent),
                amount: squash(mine.querySelector('.amount')?.textContent) };`,
      [byTestId('agenda-list'), byTestId('agenda-item'), PATIENT],
    );
    return last?.found && last.status === 'paid' ? last : null;
  };
  const item = await waitFor(probe, { timeoutMs: 10_000, message: `the agenda item for ${PATIENT} never showed data-status="paid"` }).catch(
    (e) => fail(`${e.message}; last seen: ${JSON.stringify(last)}`),
  );
  if (item.label !== 'Pagado') fail(`the agenda item's status chip reads ${JSON.stringify(item.label)}, expected "Pagado"`);
  if (item.time !== '10:00–10:30') fail(`the agenda item shows time ${JSON.stringify(item.time)}, expected "10:00–10:30"`);
  if (item.amount !== 'S/ 80.00') fail(`the agenda item shows amount ${JSON.stringify(item.amount)}, expected "S/ 80.00"`);
  if (item.day !== bookingDate) fail(`the agenda shows day ${JSON.stringify(item.day)}, expected the booking's day ${bookingDate}`);
  screenshot('02-paid');
});

step('"Cancelar cita" on the paid booking asks for a refund decision', async () => {
  const button = await waitForElement(byTestId('cancel-booking'), 10_000, 'the cancel-booking button');
  await clickInView(button);
  await waitForElement(`${byTestId('cancel-dialog')}[open]`, 10_000, 'the open cancel dialog');
  const dialog = await exec(
    `const d = document.querySelector(arguments[0]);
     const squash = (t) => (t ?? '').replace(/\\s+/g, ' ').trim();
     return { title: squash(d.querySelector('h2')?.textContent),
              choices: [...d.querySelectorAll('label.choice')].map((l) => squash(l.textContent)),
              focused: document.activeElement?.dataset?.testid ?? null };`,
    [byTestId('cancel-dialog')],
  );
  if (dialog.title !== '¿Cancelar la cita?') fail(`the dialog's title reads ${JSON.stringify(dialog.title)}`);
  const wanted = ['Sin devolución', 'Devolución total (S/ 80.00)', 'Devolución parcial'];
  if (JSON.stringify(dialog.choices) !== JSON.stringify(wanted)) {
    fail(`the refund choices read ${JSON.stringify(dialog.choices)}, expected ${JSON.stringify(wanted)}`);
  }
  if (dialog.focused !== 'cancel-refund-none') fail(`focus is on ${JSON.stringify(dialog.focused)}, expected the first choice`);
  const full = await find(byTestId('cancel-refund-full'));
  if (!full) fail('the "Devolución total" choice (cancel-refund-full) is not in the dialog');
  await click(full);
  const checked = await exec('return document.querySelector(arguments[0]).checked;', [byTestId('cancel-refund-full')]);
  if (checked !== true) fail('clicking "Devolución total" did not select it');
  screenshot('03-cancel-dialog');
});

step('confirming refunds in full: "Cancelada" and "Reembolsado" in the panel', async () => {
  await click(await find(byTestId('cancel-confirm')));
  let last = null;
  await waitFor(
    async () => {
      last = await exec(
        `const squash = (t) => (t ?? '').replace(/\\s+/g, ' ').trim();
         const q = (id) => document.querySelector('[data-testid="' + id + '"]');
         return { dialogOpen: !!q('cancel-dialog'), refundError: q('cancel-refund-error') ? squash(q('cancel-refund-error').textContent) : null,
                  error: q('cancel-error') ? squash(q('cancel-error').textContent) : null,
                  booking: squash(q('booking-status')?.textContent), charge: squash(q('charge-status')?.textContent),
                  chargeCode: q('charge-status')?.dataset.status ?? null };`,
      );
      if (last.refundError || last.error) fail(`the cancel was refused: ${last.refundError ?? last.error}`);
      return !last.dialogOpen && last.booking === 'Cancelada' && last.charge === 'Reembolsado' ? last : null;
    },
    { timeoutMs: REFUND_WAIT_MS, intervalMs: 300, message: 'the panel never showed "Cancelada" and "Reembolsado"' },
  ).catch((e) => fail(`${e.message}; last seen: ${JSON.stringify(last)}`));
  if (last.chargeCode !== 'refunded') fail(`charge-status has data-status=${JSON.stringify(last.chargeCode)}, expected "refunded"`);
  if (await find(byTestId('cancel-booking'))) fail('the cancel-booking button is still shown for a cancelled booking');
  const marker = await exec('return window.__mostradorE2E ?? null;');
  if (marker !== paidMarker) fail('the page was reloaded during the cancel (the window marker is gone)');
});

step('the agenda item shows "Reembolsado" and "Cancelada" too', async () => {
  let last = null;
  await waitFor(
    async () => {
      last = await exec(
        `const items = [...document.querySelectorAll(arguments[0] + ' ' + arguments[1])];
         const mine = items.find((i) => i.querySelector('.patient')?.textContent.trim() === arguments[2]);
         if (!mine) return { found: false, items: items.length };
         const squash = (t) => (t ?? '').replace(/\\s+/g, ' ').trim();
         const chip = mine.querySelector('[data-testid="agenda-item-status"]');
         const over = mine.querySelector('[data-testid="agenda-item-booking-status"]');
         return { found: true, charge: squash(chip?.textContent), booking: squash(over?.textContent) };`,
        [byTestId('agenda-list'), byTestId('agenda-item'), PATIENT],
      );
      return last?.found && last.charge === 'Reembolsado' && last.booking === 'Cancelada' ? last : null;
    },
    { timeoutMs: 10_000, message: `the agenda item for ${PATIENT} never showed "Reembolsado" and "Cancelada"` },
  ).catch((e) => fail(`${e.message}; last seen: ${JSON.stringify(last)}`));
  screenshot('04-cancelled-refunded');
});

// ---------------------------------------------------------------------------------------------
// Runner

async function deleteSession() {
  if (!sessionId) return;
  const id = sessionId;
  sessionId = null;
  try {
    await wd('DELETE', `/session/${id}`, undefined, DELETE_SESSION_MS);
    log('session deleted');
  } catch (e) {
    log(`warning: could not delete the session: ${e.message}`);
  }
}

async function finish(reason) {
  if (finishing) return;
  finishing = true;
  if (reason) {
    failed += 1;
    log(`FAIL ${reason}`);
  }
  await deleteSession();
  if (skipped) log(`(${skipped} step(s) skipped after the first failure)`);
  log(`desktop-e2e: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

const watchdog = setTimeout(() => {
  skipped += Math.max(0, steps.length - passed - failed - 1);
  void finish(`the whole run took longer than ${WHOLE_RUN_MS / 1000}s; stopping`);
}, WHOLE_RUN_MS);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => void finish(`interrupted by ${signal}`));
}

async function main() {
  log(`desktop-e2e: driver ${DRIVER}, app ${APP}, output ${OUT}`);
  for (let i = 0; i < steps.length; i += 1) {
    const { name, fn } = steps[i];
    const started = Date.now();
    try {
      await fn();
      passed += 1;
      log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
    } catch (e) {
      failed += 1;
      log(`FAIL ${name} (${((Date.now() - started) / 1000).toFixed(1)}s)\n     ${e instanceof StepError ? e.message : e?.stack || e}`);
      if (sessionId) screenshot('99-failure');
      skipped = steps.length - i - 1;
      break;
    }
  }
  await finish();
}

main().catch((e) => finish(`unexpected error: ${e?.stack || e}`));
