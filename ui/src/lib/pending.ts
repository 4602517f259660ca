// What is still owed to GHL and Mercado Pago for a charge, in staff's words: the outbox
// kinds the engine reports (desk::outbox) → their label, and when the next try falls due.

import type { MessageKey } from './i18n';
import { clockIn } from './time';

export const PENDING_KINDS = [
  'mp.create_link',
  'mp.expire_link',
  'mp.close_link',
  'mp.refund',
  'ghl.confirm',
  'ghl.tag',
  'ghl.note',
] as const;
export type PendingKind = (typeof PENDING_KINDS)[number];

function known(kind: string): kind is PendingKind {
  return (PENDING_KINDS as readonly string[]).includes(kind);
}

/** The label key of an owed item; a kind this UI does not know yet gets a generic one. */
export function pendingKindKey(kind: string): MessageKey {
  return known(kind) ? `pending.kind.${kind}` : 'pending.kind.unknown';
}

/** When the next try falls due: "HH:MM" in the clinic's zone, or null when it is due already. */
export function nextAttemptClock(iso: string, timeZone: string | undefined, now: Date = new Date()): string | null {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return null;
  return at.getTime() <= now.getTime() ? null : clockIn(at, timeZone);
}
