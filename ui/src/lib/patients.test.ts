import { describe, expect, it, vi } from 'vitest';
import type { Patient } from './api';
import {
  PatientSearch,
  SEARCH_DELAY_MS,
  bookingName,
  moveActive,
  newPatientPrefill,
  patientDetail,
  searchableQuery,
  validateNewPatient,
  type SearchState,
  type Timers,
} from './patients';

const ana: Patient = { contactId: 'CntAnaTorres00000001', name: 'Ana Torres', phone: '+51912345678', email: 'ana@example.com' };
const anaLucia: Patient = { contactId: 'CntAnaLucia000000001', name: 'Ana Lucía', phone: null, email: 'al@example.com' };

/** Timers a test fires by hand; `pending` says what is waiting and for how long. */
function manualTimers() {
  let next = 1;
  const waiting = new Map<number, { run: () => void; ms: number }>();
  const timers: Timers = {
    set: (run, ms) => {
      waiting.set(next, { run, ms });
      return next++;
    },
    clear: (handle) => void waiting.delete(handle as number),
  };
  return {
    timers,
    pending: () => [...waiting.values()].map((w) => w.ms),
    fire() {
      const all = [...waiting.values()];
      waiting.clear();
      all.forEach((w) => w.run());
    },
  };
}

/** A search whose answers the test hands out, in any order. */
function controlledSearch() {
  const asked: { query: string; answer: (patients: Patient[]) => void; refuse: (error: unknown) => void }[] = [];
  const search = vi.fn(
    (query: string) =>
      new Promise<Patient[]>((answer, refuse) => {
        asked.push({ query, answer, refuse });
      }),
  );
  return { search, asked };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('PatientSearch', () => {
  it('waits for a pause in typing and sends only the last text', () => {
    const clock = manualTimers();
    const { search } = controlledSearch();
    const states: SearchState[] = [];
    const searcher = new PatientSearch(search, (s) => states.push(s), SEARCH_DELAY_MS, clock.timers);
    searcher.input('an');
    searcher.input('ana');
    searcher.input('ana ');
    expect(clock.pending()).toEqual([300]);
    expect(search).not.toHaveBeenCalled();
    expect(states.at(-1)).toEqual({ kind: 'searching', query: 'ana' });
    clock.fire();
    expect(search).toHaveBeenCalledTimes(1);
    expect(search).toHaveBeenCalledWith('ana');
  });

  it('does not search fewer than 2 characters, and goes back to idle', () => {
    const clock = manualTimers();
    const { search } = controlledSearch();
    const states: SearchState[] = [];
    const searcher = new PatientSearch(search, (s) => states.push(s), SEARCH_DELAY_MS, clock.timers);
    searcher.input('ana');
    searcher.input(' a ');
    expect(clock.pending()).toEqual([]);
    expect(states.at(-1)).toEqual({ kind: 'idle' });
    expect(search).not.toHaveBeenCalled();
  });

  it('drops a slow answer for older text: "an" answering after "ana" never shows', async () => {
    const clock = manualTimers();
    const { search, asked } = controlledSearch();
    const states: SearchState[] = [];
    const searcher = new PatientSearch(search, (s) => states.push(s), SEARCH_DELAY_MS, clock.timers);
    searcher.input('an');
    clock.fire();
    searcher.input('ana t');
    clock.fire();
    asked[1].answer([ana]);
    await settle();
    asked[0].answer([ana, anaLucia]);
    await settle();
    expect(states.at(-1)).toEqual({ kind: 'results', query: 'ana t', patients: [ana] });
    expect(states.filter((s) => s.kind === 'results')).toHaveLength(1);
  });

  it('shows an error by its code, and an answer after reset is dropped', async () => {
    const clock = manualTimers();
    const { search, asked } = controlledSearch();
    const states: SearchState[] = [];
    const searcher = new PatientSearch(search, (s) => states.push(s), SEARCH_DELAY_MS, clock.timers);
    searcher.input('ana');
    clock.fire();
    asked[0].refuse({ code: 'RATE_LIMITED', message: 'slow down' });
    await settle();
    expect(states.at(-1)).toEqual({ kind: 'error', query: 'ana', error: { code: 'RATE_LIMITED', message: 'slow down' } });

    searcher.input('luis');
    clock.fire();
    searcher.reset();
    asked[1].answer([ana]);
    await settle();
    expect(states.at(-1)).toEqual({ kind: 'idle' });
  });

  it('does not ask again for the text whose answer is on screen', async () => {
    const clock = manualTimers();
    const { search, asked } = controlledSearch();
    const searcher = new PatientSearch(search, () => {}, SEARCH_DELAY_MS, clock.timers);
    searcher.input('ana');
    clock.fire();
    asked[0].answer([ana]);
    await settle();
    searcher.input('ana ');
    expect(clock.pending()).toEqual([]);
    expect(search).toHaveBeenCalledTimes(1);
  });
});

describe('patient picker rules', () => {
  it('searches 2–100 characters once trimmed', () => {
    expect(searchableQuery(' a ')).toBeNull();
    expect(searchableQuery(' an ')).toBe('an');
    expect(searchableQuery('x'.repeat(100))).toHaveLength(100);
    expect(searchableQuery('x'.repeat(101))).toBeNull();
  });

  it('moves the active option with the arrows, wrapping at both ends', () => {
    expect(moveActive(-1, 3, 'ArrowDown')).toBe(0);
    expect(moveActive(-1, 3, 'ArrowUp')).toBe(2);
    expect(moveActive(2, 3, 'ArrowDown')).toBe(0);
    expect(moveActive(0, 3, 'ArrowUp')).toBe(2);
    expect(moveActive(0, 0, 'ArrowDown')).toBe(-1);
  });

  it('shows phone and email, whichever the contact has', () => {
    expect(patientDetail(ana)).toBe('+51912345678 · ana@example.com');
    expect(patientDetail(anaLucia)).toBe('al@example.com');
  });

  it('starts "Nuevo paciente" from what was searched, in the field it belongs to', () => {
    expect(newPatientPrefill(' Carmen Díaz ')).toEqual({ name: 'Carmen Díaz', phone: '', email: '' });
    expect(newPatientPrefill('+51 911 222 333')).toEqual({ name: '', phone: '+51 911 222 333', email: '' });
    expect(newPatientPrefill('carmen@example.com')).toEqual({ name: '', phone: '', email: 'carmen@example.com' });
  });

  it('checks a new patient as the engine does: a name, and a phone or an email', () => {
    expect(validateNewPatient({ name: ' Carmen ', phone: '', email: 'c@example.com' })).toEqual({
      ok: true, name: 'Carmen', phone: null, email: 'c@example.com',
    });
    expect(validateNewPatient({ name: '', phone: '', email: '' })).toEqual({
      ok: false, errors: { name: 'validation.newPatientName', phone: 'validation.newPatientContact' },
    });
    expect(validateNewPatient({ name: 'Carmen', phone: 'llamar', email: 'c@' })).toEqual({
      ok: false, errors: { phone: 'validation.phoneInvalid', email: 'validation.emailInvalid' },
    });
  });

  it('books a nameless contact under what identifies them', () => {
    expect(bookingName(ana)).toBe('Ana Torres');
    expect(bookingName({ ...anaLucia, name: ' ' })).toBe('al@example.com');
  });
});
