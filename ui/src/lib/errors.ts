// Turns whatever a command rejected with into an `ApiError`, and an error code into
// the words staff read. The UI never parses `message`; it may show it as a detail.

import { ERROR_CODES, type ApiError, type ErrorCode } from './api';
import type { MessageKey } from './i18n';

/** Codes after which the same request may succeed if simply sent again. */
const TRANSIENT: ReadonlySet<string> = new Set<ErrorCode>([
  'INTERNAL',
  'PROVIDER_UNAVAILABLE',
  'RATE_LIMITED',
  'DB_UNAVAILABLE',
]);

/** Code used when a rejection is not a structured command error (IPC failure, bug). */
export const UNSTRUCTURED = 'INTERNAL';

/** Normalises a rejection from `invoke` into `{ code, message, details? }`. */
export function toApiError(error: unknown): ApiError {
  if (error && typeof error === 'object' && typeof (error as ApiError).code === 'string') {
    const { code, message, details } = error as ApiError;
    const field = details && typeof details.field === 'string' ? details.field : undefined;
    return {
      code,
      message: typeof message === 'string' ? message : '',
      ...(field ? { details: { field } } : {}),
    };
  }
  if (typeof error === 'string') return { code: UNSTRUCTURED, message: error };
  if (error instanceof Error) return { code: UNSTRUCTURED, message: error.message };
  return { code: UNSTRUCTURED, message: '' };
}

/** Whether `code` is one of the stable codes the UI knows. */
export function isKnownCode(code: string): code is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code);
}

/** The i18n key for an error code; unknown codes get a generic message. */
export function errorMessageKey(code: string): MessageKey {
  return isKnownCode(code) ? `error.${code}` : 'error.UNKNOWN';
}

/** Whether retrying the very same request might succeed (so it must reuse its key). */
export function isTransient(error: ApiError): boolean {
  return TRANSIENT.has(error.code) || !isKnownCode(error.code);
}
