// The UI's words, in Spanish (the default) and English. Every string a person reads
// comes from here; `en` is typed against `es`, so a missing key fails `npm run check`,
// and a test checks both dictionaries have the same keys and placeholders.

export const LANGS = ['es', 'en'] as const;
export type Lang = (typeof LANGS)[number];

const es = {
  'app.name': 'Mostrador',
  'app.timezone': 'Zona horaria: {tz}',
  'app.loading': 'Cargando…',
  'app.language': 'Idioma',
  'demo.title': 'MODO DEMO',
  'demo.body':
    'La app funciona con un entorno de prueba integrado: las citas y los pagos son simulados y no se mueve dinero real.',

  'agenda.title': 'Agenda del día',
  'agenda.prev': 'Día anterior',
  'agenda.next': 'Día siguiente',
  'agenda.today': 'Hoy',
  'agenda.date': 'Fecha',
  'agenda.empty': 'No hay citas para este día.',
  'agenda.refresh': 'Actualizar',
  'agenda.noCharge': 'Sin cobro',
  'agenda.noCalendar': 'Calendario desconocido',

  'charge.status.draft': 'Link pendiente',
  'charge.status.open': 'Pendiente de pago',
  'charge.status.paid': 'Pagado',
  'charge.status.expired': 'Vencido',
  'charge.status.cancelled': 'Cancelado',
  'charge.status.needs_review': 'Revisar',
  'charge.status.refunded': 'Reembolsado',
  'charge.status.partially_refunded': 'Reembolso parcial',
  'charge.status.charged_back': 'Contracargo',
  'charge.status.unknown': 'Estado desconocido',

  'booking.title': 'Nueva cita',
  'booking.calendar': 'Calendario',
  'booking.calendarPlaceholder': 'Elige un calendario',
  'booking.patientName': 'Nombre del paciente',
  'booking.patientPhone': 'Teléfono (opcional)',
  'booking.date': 'Fecha',
  'booking.start': 'Inicio',
  'booking.end': 'Fin',
  'booking.amount': 'Monto ({currency})',
  'booking.description': 'Descripción',
  'booking.descriptionDefault': 'Consulta',
  'booking.submit': 'Reservar y cobrar',
  'booking.submitting': 'Reservando…',
  'booking.created': 'Cita reservada para {name}.',

  'validation.calendarRequired': 'Elige un calendario.',
  'validation.patientNameRequired': 'Escribe el nombre del paciente.',
  'validation.patientNameTooLong': 'El nombre es demasiado largo.',
  'validation.phoneInvalid': 'El teléfono solo puede tener dígitos, espacios, +, - y paréntesis.',
  'validation.dateRequired': 'Elige una fecha.',
  'validation.startRequired': 'Elige la hora de inicio.',
  'validation.endAfterStart': 'El fin debe ser después del inicio.',
  'validation.amountRequired': 'Escribe el monto.',
  'validation.amountInvalid': 'Escribe un monto como 80.00.',
  'validation.amountPositive': 'El monto debe ser mayor que cero.',
  'validation.amountScale': 'Máximo {scale} decimales para {currency}.',
  'validation.amountNoDecimals': '{currency} no usa decimales.',
  'validation.descriptionRequired': 'Escribe una descripción.',
  'validation.descriptionTooLong': 'La descripción es demasiado larga.',
  'validation.serverField': 'Revisa este dato.',

  'panel.title': 'Cobro',
  'panel.close': 'Cerrar',
  'panel.patient': 'Paciente',
  'panel.when': 'Horario',
  'panel.scan': 'El paciente escanea este código con su celular para pagar.',
  'panel.link': 'Link de pago',
  'panel.copy': 'Copiar',
  'panel.copied': 'Copiado',
  'panel.copyFailed': 'No se pudo copiar',
  'panel.waiting': 'Esperando pago',
  'panel.paid': 'Pagado',
  'panel.paidAt': 'Pagado el {when}',
  'panel.linkPending': 'El link de pago aún se está creando; se mostrará aquí en cuanto esté listo.',
  'panel.retryLink': 'Reintentar ahora',
  'panel.retrying': 'Reintentando…',
  'panel.noCharge': 'Esta cita no tiene cobro.',
  'panel.simulate': 'Simular pago del paciente',
  'panel.simulating': 'Simulando…',
  'panel.empty': 'Reserva una cita o elige una de la agenda para ver su cobro.',

  'error.VALIDATION': 'Hay datos que revisar.',
  'error.SLOT_TAKEN': 'Ese horario ya no está disponible. Elige otro.',
  'error.NOT_FOUND': 'No se encontró lo que buscabas; quizá se eliminó.',
  'error.CONFLICT': 'Alguien más cambió estos datos. Actualiza e intenta de nuevo.',
  'error.GHL_UNAUTHORIZED': 'GoHighLevel rechazó las credenciales. Revisa la configuración.',
  'error.MP_UNAUTHORIZED': 'Mercado Pago rechazó las credenciales. Revisa la configuración.',
  'error.PROVIDER_UNAVAILABLE': 'GoHighLevel o Mercado Pago no responden. Intenta de nuevo en un momento.',
  'error.RATE_LIMITED': 'Demasiadas solicitudes seguidas. Espera un momento e intenta de nuevo.',
  'error.DB_UNAVAILABLE': 'No se puede acceder a la base de datos. Intenta de nuevo en un momento.',
  'error.KEYCHAIN_UNAVAILABLE': 'No se puede leer el llavero del sistema donde se guardan las credenciales.',
  'error.NOT_CONFIGURED': 'Falta configurar la app (credenciales o calendario).',
  'error.INTERNAL': 'Algo salió mal. Intenta de nuevo.',
  'error.UNKNOWN': 'Error inesperado. Intenta de nuevo.',
  'error.detail': 'Detalle: {message}',
  'error.dismiss': 'Cerrar aviso',
} as const;

export type MessageKey = keyof typeof es;
export type Dictionary = Record<MessageKey, string>;

const en: Dictionary = {
  'app.name': 'Mostrador',
  'app.timezone': 'Time zone: {tz}',
  'app.loading': 'Loading…',
  'app.language': 'Language',
  'demo.title': 'DEMO MODE',
  'demo.body':
    'The app runs against a built-in sandbox: appointments and payments are simulated and no real money moves.',

  'agenda.title': 'Schedule',
  'agenda.prev': 'Previous day',
  'agenda.next': 'Next day',
  'agenda.today': 'Today',
  'agenda.date': 'Date',
  'agenda.empty': 'No appointments for this day.',
  'agenda.refresh': 'Refresh',
  'agenda.noCharge': 'No charge',
  'agenda.noCalendar': 'Unknown calendar',

  'charge.status.draft': 'Link pending',
  'charge.status.open': 'Awaiting payment',
  'charge.status.paid': 'Paid',
  'charge.status.expired': 'Expired',
  'charge.status.cancelled': 'Cancelled',
  'charge.status.needs_review': 'Needs review',
  'charge.status.refunded': 'Refunded',
  'charge.status.partially_refunded': 'Partially refunded',
  'charge.status.charged_back': 'Charged back',
  'charge.status.unknown': 'Unknown status',

  'booking.title': 'New appointment',
  'booking.calendar': 'Calendar',
  'booking.calendarPlaceholder': 'Choose a calendar',
  'booking.patientName': 'Patient name',
  'booking.patientPhone': 'Phone (optional)',
  'booking.date': 'Date',
  'booking.start': 'Start',
  'booking.end': 'End',
  'booking.amount': 'Amount ({currency})',
  'booking.description': 'Description',
  'booking.descriptionDefault': 'Consultation',
  'booking.submit': 'Book and charge',
  'booking.submitting': 'Booking…',
  'booking.created': 'Appointment booked for {name}.',

  'validation.calendarRequired': 'Choose a calendar.',
  'validation.patientNameRequired': "Enter the patient's name.",
  'validation.patientNameTooLong': 'The name is too long.',
  'validation.phoneInvalid': 'The phone may only contain digits, spaces, +, - and parentheses.',
  'validation.dateRequired': 'Choose a date.',
  'validation.startRequired': 'Choose the start time.',
  'validation.endAfterStart': 'The end must be after the start.',
  'validation.amountRequired': 'Enter the amount.',
  'validation.amountInvalid': 'Enter an amount like 80.00.',
  'validation.amountPositive': 'The amount must be greater than zero.',
  'validation.amountScale': 'At most {scale} decimals for {currency}.',
  'validation.amountNoDecimals': '{currency} has no decimals.',
  'validation.descriptionRequired': 'Enter a description.',
  'validation.descriptionTooLong': 'The description is too long.',
  'validation.serverField': 'Please check this value.',

  'panel.title': 'Charge',
  'panel.close': 'Close',
  'panel.patient': 'Patient',
  'panel.when': 'Time',
  'panel.scan': 'The patient scans this code with their phone to pay.',
  'panel.link': 'Payment link',
  'panel.copy': 'Copy',
  'panel.copied': 'Copied',
  'panel.copyFailed': 'Could not copy',
  'panel.waiting': 'Awaiting payment',
  'panel.paid': 'Paid',
  'panel.paidAt': 'Paid on {when}',
  'panel.linkPending': 'The payment link is still being created; it will show here as soon as it is ready.',
  'panel.retryLink': 'Retry now',
  'panel.retrying': 'Retrying…',
  'panel.noCharge': 'This appointment has no charge.',
  'panel.simulate': "Simulate the patient's payment",
  'panel.simulating': 'Simulating…',
  'panel.empty': 'Book an appointment or pick one from the schedule to see its charge.',

  'error.VALIDATION': 'Some details need checking.',
  'error.SLOT_TAKEN': 'That time slot is no longer available. Pick another one.',
  'error.NOT_FOUND': 'Not found; it may have been deleted.',
  'error.CONFLICT': 'Someone else changed this. Refresh and try again.',
  'error.GHL_UNAUTHORIZED': 'GoHighLevel rejected the credentials. Check the settings.',
  'error.MP_UNAUTHORIZED': 'Mercado Pago rejected the credentials. Check the settings.',
  'error.PROVIDER_UNAVAILABLE': 'GoHighLevel or Mercado Pago is not responding. Try again in a moment.',
  'error.RATE_LIMITED': 'Too many requests in a row. Wait a moment and try again.',
  'error.DB_UNAVAILABLE': 'The database cannot be reached. Try again in a moment.',
  'error.KEYCHAIN_UNAVAILABLE': 'The system keychain that holds the credentials cannot be read.',
  'error.NOT_CONFIGURED': 'The app is not set up yet (credentials or calendar).',
  'error.INTERNAL': 'Something went wrong. Try again.',
  'error.UNKNOWN': 'Unexpected error. Try again.',
  'error.detail': 'Detail: {message}',
  'error.dismiss': 'Dismiss',
};

export const dictionaries: Record<Lang, Dictionary> = { es, en };

/** Values substituted for `{name}` placeholders. */
export type Params = Record<string, string | number>;

/** The message for `key` in `lang`, with `{placeholders}` filled from `params`. */
export function translate(lang: Lang, key: MessageKey, params?: Params): string {
  const template = dictionaries[lang][key] ?? dictionaries.es[key] ?? key;
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** Narrows a stored or user-supplied value to a supported language. */
export function asLang(value: unknown): Lang | null {
  return typeof value === 'string' && (LANGS as readonly string[]).includes(value)
    ? (value as Lang)
    : null;
}

/** The BCP 47 tag used for dates and times in each UI language. */
export const DATE_LOCALE: Record<Lang, string> = { es: 'es-PE', en: 'en-US' };
