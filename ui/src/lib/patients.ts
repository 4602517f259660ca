// The booking form's patient picker. Search as staff type: waits for a pause in typing (GHL's
// rate limits are shared by every desk), asks only for 2–100 characters (the engine's rule),
// and shows only the answer to the latest text — a slow answer for "an" never replaces the one
// for "ana". "Nuevo paciente": the client checks that mirror `create_patient`'s.

import type { ApiError, Patient } from './api';
import { toApiError } from './errors';
import type { MessageKey } from './i18n';

/** Pause in typing before the search is sent. */
export const SEARCH_DELAY_MS = 300;
/** The engine's bounds on the search text, in characters after trimming. */
export const MIN_QUERY = 2;
export const MAX_QUERY = 100;

/** What the result list shows. `idle`: nothing to search (too short, or cleared). */
export type SearchState =
  | { kind: 'idle' }
  | { kind: 'searching'; query: string }
  | { kind: 'results'; query: string; patients: Patient[] }
  | { kind: 'error'; query: string; error: ApiError };

/** The text to send for what was typed, or null when it is too short or too long to search. */
export function searchableQuery(typed: string): string | null {
  const query = typed.trim();
  const length = [...query].length;
  return length >= MIN_QUERY && length <= MAX_QUERY ? query : null;
}

/** Timers, injectable so tests can drive them. */
export type Timers = {
  set: (run: () => void, ms: number) => unknown;
  clear: (handle: unknown) => void;
};

const realTimers: Timers = {
  set: (run, ms) => setTimeout(run, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Runs the search for the text typed last. `input` on every keystroke; `onState` hears each
 * change of what the list should show.
 */
export class PatientSearch {
  private timer: unknown = null;
  /** Bumped on every input: an answer carrying an older number is stale. */
  private generation = 0;
  private state: SearchState = { kind: 'idle' };

  constructor(
    private readonly search: (query: string) => Promise<Patient[]>,
    private readonly onState: (state: SearchState) => void,
    private readonly delayMs = SEARCH_DELAY_MS,
    private readonly timers: Timers = realTimers,
  ) {}

  /** The text in the search box changed. */
  input(typed: string): void {
    const query = searchableQuery(typed);
    const generation = ++this.generation;
    this.clearTimer();
    if (query === null) {
      this.set({ kind: 'idle' });
      return;
    }
    // Same text as the answer on screen (a space typed and deleted): nothing to ask again.
    if (this.state.kind === 'results' && this.state.query === query) return;
    this.set({ kind: 'searching', query });
    this.timer = this.timers.set(() => {
      this.timer = null;
      void this.run(query, generation);
    }, this.delayMs);
  }

  /** Forgets the search: a pending one is not sent, an answer in flight is dropped. */
  reset(): void {
    this.generation++;
    this.clearTimer();
    this.set({ kind: 'idle' });
  }

  private async run(query: string, generation: number): Promise<void> {
    let next: SearchState;
    try {
      next = { kind: 'results', query, patients: await this.search(query) };
    } catch (error) {
      next = { kind: 'error', query, error: toApiError(error) };
    }
    if (generation === this.generation) this.set(next);
  }

  private set(state: SearchState): void {
    this.state = state;
    this.onState(state);
  }

  private clearTimer(): void {
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
  }
}

/** The option the arrow keys move to: wraps at both ends; -1 while the list is empty. */
export function moveActive(active: number, count: number, key: 'ArrowDown' | 'ArrowUp'): number {
  if (count === 0) return -1;
  if (active < 0) return key === 'ArrowDown' ? 0 : count - 1;
  return key === 'ArrowDown' ? (active + 1) % count : (active - 1 + count) % count;
}

/** A patient's second line in the list: phone and email, whichever GHL has. */
export function patientDetail(patient: Patient): string {
  return [patient.phone, patient.email].filter((v): v is string => !!v).join(' · ');
}

/**
 * A name to start "Nuevo paciente" with: what was searched, unless it was a phone or an email
 * (then it goes in its own field).
 */
export function newPatientPrefill(typed: string): { name: string; phone: string; email: string } {
  const text = typed.trim();
  if (text.includes('@')) return { name: '', phone: '', email: text };
  if (/^\+?[\d\s()-]+$/.test(text) && /\d/.test(text)) return { name: '', phone: text, email: '' };
  return { name: text, phone: '', email: '' };
}

/** "Nuevo paciente" as typed. */
export type NewPatientValues = { name: string; phone: string; email: string };
export type NewPatientField = keyof NewPatientValues;

/** Checks "Nuevo paciente" as the engine will (a name; a phone or an email, each well formed). */
export function validateNewPatient(
  form: NewPatientValues,
):
  | { ok: true; name: string; phone: string | null; email: string | null }
  | { ok: false; errors: Partial<Record<NewPatientField, MessageKey>> } {
  const name = form.name.trim();
  const phone = form.phone.trim();
  const email = form.email.trim();
  const errors: Partial<Record<NewPatientField, MessageKey>> = {};
  if (!name) errors.name = 'validation.newPatientName';
  else if (name.length > 200) errors.name = 'validation.patientNameTooLong';
  if (!phone && !email) errors.phone = 'validation.newPatientContact';
  if (phone && !/^\+?[\d\s()-]{6,20}$/.test(phone)) errors.phone = 'validation.phoneInvalid';
  if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) errors.email = 'validation.emailInvalid';
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, name, phone: phone || null, email: email || null };
}

/** The name the booking carries for a picked patient: GHL's, else what else identifies them. */
export function bookingName(patient: Patient): string {
  return patient.name.trim() || patient.phone || patient.email || patient.contactId;
}
