//! What the domain tells the people watching: hosts forward these to the UI (Tauri
//! events), to a channel (tests), or nowhere (the hub).

use serde::Serialize;

/// Something staff should see change without reloading.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeskEvent {
    /// A charge changed status (e.g. it turned paid).
    #[serde(rename_all = "camelCase")]
    ChargeUpdated {
        charge_id: String,
        booking_id: String,
        status: String,
    },
    /// What is still owed to the providers for a charge changed (a try failed), with no
    /// change of status: screens showing it re-read `pending_effects`.
    #[serde(rename_all = "camelCase")]
    EffectsChanged { charge_id: String },
}

/// Receives domain events. Must not block.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: DeskEvent);
}

/// Drops every event (the hub has no screen).
pub struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _event: DeskEvent) {}
}

/// Forwards events to a tokio broadcast channel (tests, and hosts that fan out).
pub struct BroadcastEvents(pub tokio::sync::broadcast::Sender<DeskEvent>);

impl EventSink for BroadcastEvents {
    fn emit(&self, event: DeskEvent) {
        // No receiver is not an error: nobody is watching right now.
        let _ = self.0.send(event);
    }
}
