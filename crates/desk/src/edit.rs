//! Editing an appointment (reschedule, retitle, reassign, change status): validated here,
//! sent to GHL, and GHL's answer applied to the booking through the same code path as a
//! webhook — so a cancel made by editing expires the unpaid link exactly as one made in GHL.

use crate::desk::Desk;
use crate::error::DeskError;
use crate::model::{AppointmentChange, Booking};
use crate::ports::{AppointmentChanges, RemoteAppointment};
use chrono::{DateTime, Utc};

/// GHL's appointment statuses that may be set by an edit.
const STATUSES: [&str; 6] = [
    "new",
    "confirmed",
    "cancelled",
    "showed",
    "noshow",
    "invalid",
];
const MAX_TITLE: usize = 200;
const MAX_NOTES: usize = 5000;

/// An edit as a caller asks for it; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppointmentEdit {
    pub title: Option<String>,
    pub status: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub assigned_user_id: Option<String>,
    /// Kept on our booking only: GHL's update has no documented notes field.
    pub notes: Option<String>,
}

impl Desk {
    /// Edits the appointment `ghl_id`; returns the booking and GHL's appointment as it
    /// answered. Nothing is sent when the edit is invalid.
    pub async fn edit_appointment(
        &self,
        ghl_id: &str,
        edit: AppointmentEdit,
    ) -> Result<(Booking, RemoteAppointment), DeskError> {
        self.edit_as("api", "booking.edit", ghl_id, ghl_id, edit)
            .await
    }

    /// [`Desk::edit_appointment`] for `actor`, audited as `action` with `summary`: the path
    /// both compat edits and the desk's attendance marks take.
    pub(crate) async fn edit_as(
        &self,
        actor: &str,
        action: &str,
        summary: &str,
        ghl_id: &str,
        edit: AppointmentEdit,
    ) -> Result<(Booking, RemoteAppointment), DeskError> {
        let booking = self
            .store
            .booking_by_ghl_id(ghl_id)
            .await?
            .ok_or_else(|| DeskError::NotFound("appointment".into()))?;
        let changes = self.validate_edit(&booking, &edit)?;
        let mut remote = self.scheduler.update_appointment(ghl_id, &changes).await?;
        let change = AppointmentChange::from(&remote);
        if let Some(notes) = &edit.notes {
            remote.notes = Some(notes.clone());
        }
        self.apply_appointment(&change).await?;
        // GHL's echo of this change may have been applied first (same `dateUpdated`, so ours
        // was then not newer): the notes, ours alone, are written here either way.
        let booking = match &edit.notes {
            Some(notes) => self.set_notes(&booking.id, notes).await?,
            None => self
                .store
                .booking(&booking.id)
                .await?
                .ok_or_else(|| DeskError::NotFound("appointment".into()))?,
        };
        self.audit(actor, action, "booking", &booking.id, summary)
            .await;
        Ok((booking, remote))
    }

    async fn set_notes(&self, booking_id: &str, notes: &str) -> Result<Booking, DeskError> {
        for _ in 0..3 {
            let mut booking = self
                .store
                .booking(booking_id)
                .await?
                .ok_or_else(|| DeskError::NotFound("appointment".into()))?;
            if booking.notes.as_deref() == Some(notes) {
                return Ok(booking);
            }
            booking.notes = Some(notes.to_string());
            match self.store.update_booking(&booking).await {
                Ok(v) => {
                    booking.version = v;
                    return Ok(booking);
                }
                Err(crate::store::StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(DeskError::Conflict(
            "the booking kept changing; try again".into(),
        ))
    }

    fn validate_edit(
        &self,
        booking: &Booking,
        edit: &AppointmentEdit,
    ) -> Result<AppointmentChanges, DeskError> {
        if booking.status == crate::ghl_events::DELETED {
            return Err(DeskError::Conflict(
                "the appointment was deleted in GHL".into(),
            ));
        }
        let title = match &edit.title {
            Some(t) if t.trim().is_empty() || t.chars().count() > MAX_TITLE => {
                return Err(DeskError::validation(
                    "title",
                    "the title must have 1-200 characters",
                ));
            }
            t => t.as_ref().map(|t| t.trim().to_string()),
        };
        if let Some(s) = &edit.status
            && !STATUSES.contains(&s.as_str())
        {
            return Err(DeskError::validation(
                "appointmentStatus",
                "one of new, confirmed, cancelled, showed, noshow, invalid",
            ));
        }
        if edit
            .notes
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_NOTES)
        {
            return Err(DeskError::validation(
                "notes",
                "notes may have at most 5000 characters",
            ));
        }
        if edit
            .assigned_user_id
            .as_ref()
            .is_some_and(|u| !crate::model::is_ghl_id(u))
        {
            return Err(DeskError::validation(
                "assignedUserId",
                "a GHL user id is required",
            ));
        }
        let times = match (edit.starts_at, edit.ends_at) {
            (None, None) => None,
            (s, e) => {
                let start = s.unwrap_or(booking.starts_at);
                let end = e.unwrap_or(booking.ends_at);
                if end <= start {
                    return Err(DeskError::validation(
                        "endTime",
                        "the end must be after the start",
                    ));
                }
                Some((start, end))
            }
        };
        Ok(AppointmentChanges {
            title,
            status: edit.status.clone(),
            times,
            assigned_user_id: edit.assigned_user_id.clone(),
            timezone: Some(self.clinic.timezone),
        })
    }
}
