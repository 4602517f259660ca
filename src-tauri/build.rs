//! Generates the Tauri context and the permissions for the app's own commands, so the
//! capability file can grant exactly the commands the UI uses.

const COMMANDS: &[&str] = &[
    "app_status",
    "list_calendars",
    "list_bookings",
    "create_booking",
    "charge_qr",
    "simulate_payment",
    "retry_link",
    "cancel_booking",
    "check_payment",
    "pending_effects",
    "refund_charge",
    "search_patients",
    "create_patient",
    "free_slots",
    "mark_attendance",
    "reschedule_booking",
    "send_payment_link",
    "whatsapp_link",
    "record_desk_payment",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build step failed");
}
