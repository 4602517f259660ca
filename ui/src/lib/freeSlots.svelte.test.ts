import { describe, expect, it, vi } from 'vitest';
import type { FreeSlot } from './api';

const api = vi.hoisted(() => ({ freeSlots: vi.fn() }));
vi.mock('./api', () => ({ api }));

import { FreeSlots } from './freeSlots.svelte';

const slot = (localStart: string): FreeSlot => ({
  startsAt: `2026-12-05T${localStart}:00.000Z`,
  endsAt: `2026-12-05T${localStart}:30.000Z`,
  localStart,
  localEnd: `${localStart.slice(0, 3)}30`,
});

describe('FreeSlots', () => {
  it('keeps only the answer to the latest request', async () => {
    let answerOld: (v: FreeSlot[]) => void = () => {};
    api.freeSlots
      .mockImplementationOnce(() => new Promise<FreeSlot[]>((r) => (answerOld = r)))
      .mockResolvedValueOnce([slot('11:00')]);
    const free = new FreeSlots();
    const old = free.load('cal-1', '2026-12-05');
    const fresh = await free.load('cal-1', '2026-12-06');
    answerOld([slot('09:00')]);
    expect(await old).toBe(false);
    expect(fresh).toBe(true);
    expect(free.list.map((s) => s.localStart)).toEqual(['11:00']);
    expect(free.kind).toBe('ready');
  });

  it('asks nothing for a missing calendar or a malformed day, and shows errors', async () => {
    api.freeSlots.mockReset();
    const free = new FreeSlots();
    expect(await free.load('', '2026-12-05')).toBe(true);
    expect(await free.load('cal-1', '05/12/2026')).toBe(true);
    expect(api.freeSlots).not.toHaveBeenCalled();
    expect(free.kind).toBe('empty');
    api.freeSlots.mockRejectedValueOnce({ code: 'PROVIDER_UNAVAILABLE', message: 'x' });
    await free.load('cal-1', '2026-12-05');
    expect(free.kind).toBe('error');
    expect(free.error?.code).toBe('PROVIDER_UNAVAILABLE');
  });
});
