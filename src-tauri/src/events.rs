//! Domain events forwarded to the UI as Tauri events.

use desk::{DeskEvent, EventSink};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Runtime};

/// The `charge-updated` event payload.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeUpdated {
    pub charge_id: String,
    pub booking_id: String,
    pub status: String,
}

/// The `effects-updated` event payload.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectsUpdated {
    pub charge_id: String,
}

/// Emits domain events to every window.
pub struct TauriEvents<R: Runtime>(pub AppHandle<R>);

impl<R: Runtime> EventSink for TauriEvents<R> {
    fn emit(&self, event: DeskEvent) {
        let result = match event {
            DeskEvent::ChargeUpdated {
                charge_id,
                booking_id,
                status,
            } => self.0.emit(
                "charge-updated",
                ChargeUpdated {
                    charge_id,
                    booking_id,
                    status,
                },
            ),
            DeskEvent::EffectsChanged { charge_id } => {
                self.0.emit("effects-updated", EffectsUpdated { charge_id })
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "event not delivered to the UI");
        }
    }
}
