// Vite builds the UI into dist/, which the Tauri shell embeds; Vitest runs the logic tests.
import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  plugins: [svelte()],
  // Tauri expects a fixed dev port (devUrl http://localhost:1420) and reads its own logs.
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  envPrefix: ['VITE_', 'TAURI_ENV_'],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // WebView2 (Windows) is Chromium; WKWebView/WebKitGTK are recent Safari-class engines.
    target: ['es2022', 'chrome105', 'safari15'],
    sourcemap: false,
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
