// Entry point: mounts the desk UI. In `npm run dev` outside Tauri (a plain browser),
// the test fake stands in for the Rust side; production builds drop that branch.

import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';

async function boot(): Promise<void> {
  if (import.meta.env.DEV && !('__TAURI_INTERNALS__' in window)) {
    const { installFake } = await import('../tests/e2e/fake-ipc');
    installFake();
  }
  const target = document.getElementById('app');
  if (target) mount(App, { target });
}

void boot();
