// Serves the built UI with `vite preview` under a strict CSP and opens pages in
// Debian's Chromium with the Tauri IPC fake injected before any app script runs.

import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, preview } from 'vite';
import { chromium } from 'playwright-core';

export const UI_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHOT_DIR = resolve(UI_ROOT, '../test-output/ui');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The CSP the Tauri shell should use; the preview serves it so the tests prove the UI lives with it. */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self' ipc: http://ipc.localhost",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

// Chromium flags for a machine with no internet: without them it stalls on network calls.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** @param {string} path @returns {number} */
function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce(
    (/** @type {number} */ max, name) => Math.max(max, newestMtime(join(path, name))),
    stat.mtimeMs,
  );
}

/** Builds dist/ unless it is newer than every input. */
export async function buildIfNeeded() {
  const built = join(UI_ROOT, 'dist/index.html');
  const inputs = ['src', 'public', 'index.html', 'vite.config.ts', 'svelte.config.js', 'package.json'];
  const newestInput = Math.max(...inputs.map((p) => newestMtime(join(UI_ROOT, p))));
  if (existsSync(built) && statSync(built).mtimeMs >= newestInput) return false;
  await build({ root: UI_ROOT, logLevel: 'warn' });
  return true;
}

/** Bundles the IPC fake into one classic script, in memory (never written to dist/). */
export async function bundleFake() {
  const result = await build({
    root: UI_ROOT,
    configFile: false,
    logLevel: 'warn',
    build: {
      write: false,
      minify: false,
      emptyOutDir: false,
      lib: {
        entry: join(UI_ROOT, 'tests/e2e/fake-entry.ts'),
        formats: ['iife'],
        name: 'MostradorFake',
        fileName: () => 'fake.js',
      },
    },
  });
  const outputs = /** @type {import('vite').Rollup.RollupOutput[]} */ (Array.isArray(result) ? result : [result]);
  const chunk = outputs.flatMap((o) => o.output).find((o) => o.type === 'chunk');
  if (!chunk) throw new Error('fake bundle produced no chunk');
  return chunk.code;
}

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      server.close(() => resolvePort(port));
    });
  });
}

/** Starts everything; returns helpers and a `stop()`. */
export async function startHarness() {
  mkdirSync(SHOT_DIR, { recursive: true });
  await buildIfNeeded();
  const fakeScript = await bundleFake();
  const port = await freePort();
  const server = await preview({
    root: UI_ROOT,
    logLevel: 'warn',
    preview: { host: '127.0.0.1', port, strictPort: true, open: false, headers: { 'Content-Security-Policy': CSP } },
  });
  const baseUrl = `http://127.0.0.1:${port}/`;
  // Playwright gives every launch a fresh temporary --user-data-dir of its own.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });

  /**
   * A fresh context and page with the fake installed; `problems` collects console errors and CSP violations.
   * @param {{ demo?: boolean, latencyMs?: number, viewport?: { width: number, height: number } }} [options]
   */
  async function openPage({ demo = true, latencyMs = 150, viewport = { width: 1280, height: 800 } } = {}) {
    const context = await browser.newContext({ viewport, locale: 'es-PE', timezoneId: 'America/Lima' });
    const page = await context.newPage();
    /** @type {string[]} */
    const problems = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error' || /Content Security Policy/i.test(msg.text())) problems.push(msg.text());
    });
    page.on('pageerror', (error) => problems.push(String(error)));
    await page.addInitScript((options) => {
      window.__mostradorFakeOptions = options;
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
      });
    }, { demo, latencyMs });
    await page.addInitScript({ content: fakeScript });
    await page.goto(baseUrl);
    await page.getByTestId('agenda-list').waitFor();
    return { page, context, problems };
  }

  async function stop() {
    await browser.close().catch(() => {});
    await new Promise((done) => server.httpServer.close(() => done(undefined)));
  }

  return { baseUrl, openPage, stop };
}

/**
 * Polls `probe` until it returns a truthy value or `timeout` passes.
 * @template T
 * @param {() => T | Promise<T>} probe
 * @param {string} message
 * @returns {Promise<T>}
 */
export async function eventually(probe, message, timeout = 5000) {
  const deadline = Date.now() + timeout;
  /** @type {unknown} */
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${message} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * textContent with no-break spaces made plain, whitespace collapsed.
 * @param {import('playwright-core').Locator} locator
 */
export async function textOf(locator) {
  return ((await locator.textContent()) ?? '').replace(/[\u00a0\u202f]/g, ' ').replace(/\s+/g, ' ').trim();
}
