//! GHL appointment changes applied to bookings. Webhooks (read into [`AppointmentChange`]s
//! by [`crate::providers`]), the reconciler's calendar reads and GHL's answers to our edits
//! all take this one path: deduplicated by `webhookId` (the inbox's key), applied only when
//! newer by `dateUpdated`, our own echoes recognised as changing nothing, and
//! AppointmentDelete terminal. An appointment made in GHL directly (the booking widget,
//! another desk) is imported so it shows in the agenda.

use crate::desk::Desk;
use crate::error::DeskError;
use crate::model::*;
use crate::providers::{GhlNotice, ghl_notice};
use crate::store::StoreError;
use crate::time::now;
use chrono::{DateTime, Utc};

/// The booking status for a deleted appointment (GHL has no word for it).
pub const DELETED: &str = "deleted";

fn instant(s: &Option<String>) -> Option<DateTime<Utc>> {
    s.as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

impl Desk {
    /// Applies one verified GHL webhook body. Bodies that name nothing we keep are ignored.
    pub async fn apply_ghl_event(&self, body: &[u8]) -> Result<(), DeskError> {
        let Some(GhlNotice {
            location_id,
            change,
        }) = ghl_notice(body)
        else {
            tracing::info!("GHL webhook body not readable; ignored");
            return Ok(());
        };
        if location_id
            .as_deref()
            .is_some_and(|l| l != self.clinic.location_id)
        {
            tracing::info!("GHL webhook for another location; ignored");
            return Ok(());
        }
        let Some(change) = change else {
            return Ok(());
        };
        self.apply_appointment(&change).await
    }

    /// Applies one appointment change as GHL reported it — by webhook, by the reconciler, or
    /// in GHL's answer to our own change — to the booking that mirrors it.
    pub(crate) async fn apply_appointment(
        &self,
        change: &AppointmentChange,
    ) -> Result<(), DeskError> {
        let ghl_id = &change.ghl_id;
        for _ in 0..3 {
            let result = match self.store.booking_by_ghl_id(ghl_id).await? {
                None if change.deleted => return Ok(()),
                None => self.import_from_ghl(change).await,
                Some(b) => self.update_from_ghl(b, change).await,
            };
            match result {
                Err(DeskError::Conflict(_)) => continue,
                other => return other,
            }
        }
        Err(DeskError::Conflict(
            "the booking kept changing; will retry".into(),
        ))
    }

    async fn import_from_ghl(&self, change: &AppointmentChange) -> Result<(), DeskError> {
        let ghl_id = change.ghl_id.as_str();
        let (Some(starts_at), Some(ends_at), Some(calendar_id)) =
            (change.starts_at, change.ends_at, change.calendar_id.clone())
        else {
            tracing::info!("GHL webhook without times or calendar; not imported");
            return Ok(());
        };
        // The echo of our own create can arrive before GHL's answer to it is stored: a booking
        // of ours still waiting for GHL at that time is that one. Retry later, when the echo
        // will find it by its GHL id.
        let same_start = self
            .store
            .agenda(starts_at, starts_at + chrono::Duration::milliseconds(1))
            .await?;
        if same_start
            .iter()
            .any(|(b, _)| b.calendar_id == calendar_id && b.sync == SyncState::Pending)
        {
            return Err(DeskError::ProviderUnavailable {
                provider: "GoHighLevel",
                detail: "echo of a booking still being created; retrying".into(),
            });
        }
        let at = now();
        let title = change.title.clone().unwrap_or_else(|| "Cita".into());
        let booking = Booking {
            id: new_id(),
            ghl_id: Some(ghl_id.to_string()),
            location_id: self.clinic.location_id.clone(),
            calendar_id,
            contact_id: change.contact_id.clone(),
            patient_name: title.clone(),
            title,
            status: change.status.clone().unwrap_or_else(|| "confirmed".into()),
            sync: SyncState::Synced,
            starts_at,
            ends_at,
            assigned_user_id: change.assigned_user_id.clone(),
            notes: change.notes.clone(),
            source: "ghl".into(),
            ghl_date_added: change.date_added.clone(),
            ghl_date_updated: change.date_updated.clone(),
            idempotency_key: format!("ghl-import:{ghl_id}"),
            last_error: None,
            version: 1,
            created_at: at,
            updated_at: at,
        };
        match self.store.insert_booking_only(&booking).await {
            Ok(()) => {
                self.audit("webhook", "booking.import", "booking", &booking.id, ghl_id)
                    .await;
                Ok(())
            }
            // Imported meanwhile (a duplicate delivery, or another worker): apply as an update.
            Err(StoreError::Conflict(_)) => Err(DeskError::Conflict("imported meanwhile".into())),
            Err(e) => Err(e.into()),
        }
    }

    async fn update_from_ghl(
        &self,
        mut booking: Booking,
        change: &AppointmentChange,
    ) -> Result<(), DeskError> {
        if booking.status == DELETED {
            return Ok(()); // AppointmentDelete is terminal.
        }
        let incoming = instant(&change.date_updated);
        let stored = instant(&booking.ghl_date_updated);
        if let (Some(incoming), Some(stored)) = (incoming, stored)
            && incoming <= stored
            && !change.deleted
        {
            tracing::debug!(booking = %booking.id, "older or same GHL event; ignored");
            return Ok(());
        }
        let before = booking.clone();
        if change.deleted {
            booking.status = DELETED.into();
        } else if let Some(status) = &change.status {
            booking.status = status.clone();
        }
        if let Some(t) = change.starts_at {
            booking.starts_at = t;
        }
        if let Some(t) = change.ends_at {
            booking.ends_at = t;
        }
        if let Some(title) = &change.title {
            booking.title = title.clone();
        }
        // GHL sends "" for no notes; notes kept here (the compat API's) are not cleared by it.
        if change.notes.as_deref().is_some_and(|n| !n.is_empty()) {
            booking.notes = change.notes.clone();
        }
        if change.assigned_user_id.is_some() {
            booking.assigned_user_id = change.assigned_user_id.clone();
        }
        if change.date_updated.is_some() {
            booking.ghl_date_updated = change.date_updated.clone();
        }
        if booking.ghl_date_added.is_none() {
            booking.ghl_date_added = change.date_added.clone();
        }
        let meaningful = booking.status != before.status
            || booking.starts_at != before.starts_at
            || booking.ends_at != before.ends_at
            || booking.title != before.title
            || booking.notes != before.notes
            || booking.assigned_user_id != before.assigned_user_id;
        if booking == before {
            return Ok(());
        }
        booking.version = self.store.update_booking(&booking).await?;
        if meaningful {
            self.audit(
                "webhook",
                "booking.update",
                "booking",
                &booking.id,
                &format!("{} -> {}", before.status, booking.status),
            )
            .await;
        }
        let ended = |s: &str| s == "cancelled" || s == DELETED;
        if ended(&booking.status) && !ended(&before.status) {
            self.end_charge_of(&booking, "webhook").await?;
        }
        Ok(())
    }
}
