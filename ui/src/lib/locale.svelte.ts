// The chosen UI language as reactive state, remembered between sessions. Components
// call `t(...)` and re-render when the language changes.

import { asLang, translate, DATE_LOCALE, type Lang, type MessageKey, type Params } from './i18n';

const STORAGE_KEY = 'mostrador.lang';

function storedLang(): Lang {
  try {
    return asLang(globalThis.localStorage?.getItem(STORAGE_KEY)) ?? 'es';
  } catch {
    return 'es';
  }
}

const state = $state({ lang: storedLang() });

/** The current UI language. */
export function lang(): Lang {
  return state.lang;
}

/** Switches the UI language and remembers it. */
export function setLang(next: Lang): void {
  state.lang = next;
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, next);
  } catch {
    // Storage can be unavailable (private mode); the switch still applies for this session.
  }
  if (typeof document !== 'undefined') document.documentElement.lang = next;
}

/** Translates `key` in the current language. */
export function t(key: MessageKey, params?: Params): string {
  return translate(state.lang, key, params);
}

/** Locale tag for dates and times in the current language. */
export function dateLocale(): string {
  return DATE_LOCALE[state.lang];
}
