// Entry of the IIFE bundle that the e2e harness injects before the app loads.
import { installFake } from './fake-ipc';

declare global {
  interface Window {
    __mostradorFakeOptions?: { demo?: boolean; latencyMs?: number };
  }
}

installFake(window.__mostradorFakeOptions ?? {});
