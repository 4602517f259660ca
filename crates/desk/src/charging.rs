//! Charging an appointment that already exists in GHL (the compat API's
//! `POST /api/payments/create/`): the booking is found here or imported from GHL, then a new
//! charge gets its link. One open or paid link per appointment: a second one is a conflict.

use crate::desk::Desk;
use crate::error::DeskError;
use crate::model::*;
use crate::money::Money;
use crate::time::now;

impl Desk {
    /// The booking for a GHL appointment id, imported from GHL when we do not have it yet.
    pub async fn booking_for_appointment(&self, ghl_id: &str) -> Result<Booking, DeskError> {
        if !is_ghl_id(ghl_id) {
            return Err(DeskError::validation(
                "appointmentId",
                "not an appointment id",
            ));
        }
        if let Some(b) = self.store.booking_by_ghl_id(ghl_id).await? {
            return Ok(b);
        }
        let remote = self.scheduler.appointment(ghl_id).await?;
        let at = now();
        let booking = Booking {
            id: new_id(),
            ghl_id: Some(remote.ghl_id.clone()),
            location_id: self.clinic.location_id.clone(),
            calendar_id: remote.calendar_id,
            contact_id: remote.contact_id,
            patient_name: remote.title.clone(),
            title: remote.title,
            status: remote.status,
            sync: SyncState::Synced,
            starts_at: remote.starts_at,
            ends_at: remote.ends_at,
            assigned_user_id: remote.assigned_user_id,
            notes: remote.notes,
            source: "ghl".into(),
            ghl_date_added: remote.date_added,
            ghl_date_updated: remote.date_updated,
            // Importing the same appointment twice collides on this key, not on a second row.
            idempotency_key: format!("ghl-import:{}", remote.ghl_id),
            last_error: None,
            version: 1,
            created_at: at,
            updated_at: at,
        };
        match self.store.insert_booking_only(&booking).await {
            Ok(()) => Ok(booking),
            Err(crate::store::StoreError::Conflict(_)) => self
                .store
                .booking_by_ghl_id(ghl_id)
                .await?
                .ok_or_else(|| DeskError::Conflict("appointment imported concurrently".into())),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens a payment link for an existing appointment. `Conflict` when it already has an
    /// open or paid one.
    pub async fn charge_appointment(
        &self,
        ghl_id: &str,
        amount: &str,
        description: &str,
    ) -> Result<(Booking, Charge), DeskError> {
        let money = Money::parse_charge(amount, self.clinic.currency)
            .map_err(|e| DeskError::validation("amount", e.to_string()))?;
        let description = description.trim();
        if description.is_empty() || description.chars().count() > 200 {
            return Err(DeskError::validation(
                "description",
                "a description is required (at most 200 characters)",
            ));
        }
        let booking = self.booking_for_appointment(ghl_id).await?;
        if let Some(existing) = self.store.charge_of_booking(&booking.id).await?
            && !matches!(
                existing.status,
                ChargeStatus::Cancelled | ChargeStatus::Expired
            )
        {
            return Err(DeskError::Conflict(
                "a payment link already exists for this appointment".into(),
            ));
        }
        let at = now();
        let mut charge = Charge {
            id: new_id(),
            booking_id: booking.id.clone(),
            money,
            description: description.to_string(),
            preference_id: None,
            init_point: None,
            status: ChargeStatus::Draft,
            expires_at: None,
            paid_at: None,
            version: 1,
            created_at: at,
            updated_at: at,
        };
        self.store.insert_charge(&charge).await?;
        self.audit(
            "api",
            "charge.create",
            "charge",
            &charge.id,
            &charge.money.to_string(),
        )
        .await;
        self.open_link(&booking, &mut charge).await?;
        Ok((booking, charge))
    }
}
