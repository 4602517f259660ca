//! Attendance: "llegó" (`showed`) and "no asistió" (`noshow`), written to GHL's appointment
//! status through the edit path, so the booking takes GHL's answer by `apply_appointment`
//! (ordered by `dateUpdated`, written with the row's version) like any other change.
//!
//! Only an appointment GHL holds and that still stands can be marked: a pending, failed,
//! cancelled or deleted booking is refused with `CONFLICT`, since the request is well formed
//! but the booking's state forbids it (as editing a deleted appointment is).

use crate::desk::Desk;
use crate::edit::AppointmentEdit;
use crate::error::DeskError;
use crate::model::{Booking, SyncState};
use crate::view::BookingView;

/// Whether the patient came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attendance {
    /// "Llegó": GHL's `showed`.
    Showed,
    /// "No asistió": GHL's `noshow`.
    NoShow,
}

impl Attendance {
    /// `showed` or `noshow`, GHL's words; anything else is `VALIDATION` on `attendance`.
    pub fn parse(s: &str) -> Result<Self, DeskError> {
        match s.trim() {
            "showed" => Ok(Attendance::Showed),
            "noshow" => Ok(Attendance::NoShow),
            _ => Err(DeskError::validation(
                "attendance",
                "attendance is showed or noshow",
            )),
        }
    }

    /// GHL's appointment status for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Attendance::Showed => "showed",
            Attendance::NoShow => "noshow",
        }
    }
}

impl Desk {
    /// Marks whether the patient of `booking_id` came; answers the booking as GHL left it.
    /// Marking again, or the other way, corrects it.
    pub async fn mark_attendance(
        &self,
        booking_id: &str,
        attendance: Attendance,
    ) -> Result<BookingView, DeskError> {
        let booking = self.booking(booking_id).await?;
        let ghl_id = standing_ghl_id(&booking)?;
        let edit = AppointmentEdit {
            status: Some(attendance.as_str().into()),
            ..Default::default()
        };
        let (booking, _) = self
            .edit_as(
                "desk",
                "booking.attendance",
                attendance.as_str(),
                &ghl_id,
                edit,
            )
            .await?;
        self.view_of(&booking).await
    }
}

/// The GHL id of a booking GHL holds and that still stands; `CONFLICT` for a pending,
/// failed, cancelled or deleted one. Shared by every desk action that edits the appointment.
pub(crate) fn standing_ghl_id(booking: &Booking) -> Result<String, DeskError> {
    let ghl_id = match (&booking.ghl_id, booking.sync) {
        (Some(id), SyncState::Synced) => id.clone(),
        (_, SyncState::Failed) => {
            return Err(DeskError::Conflict(
                "the appointment was never made in GHL".into(),
            ));
        }
        _ => {
            return Err(DeskError::Conflict(
                "the appointment is not in GHL yet".into(),
            ));
        }
    };
    if booking.status == "cancelled" || booking.status == crate::ghl_events::DELETED {
        return Err(DeskError::Conflict(format!(
            "the appointment is {}",
            booking.status
        )));
    }
    Ok(ghl_id)
}
