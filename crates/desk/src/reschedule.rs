//! Rescheduling at the desk: a standing appointment moved to another time through the edit
//! path, so GHL re-validates the slot (a taken or off-grid time is `SLOT_TAKEN` and nothing
//! changes) and its answer reaches the booking by `apply_appointment`, like any change.
//!
//! The charge is the booking's, not the time's: it keeps its id, its link and its status, so
//! a patient who paid or holds the link need do nothing. A pending, failed, cancelled or
//! deleted booking is refused with `CONFLICT`, as attendance is.

use crate::desk::Desk;
use crate::edit::AppointmentEdit;
use crate::error::DeskError;
use crate::view::BookingView;
use chrono::{DateTime, Utc};

impl Desk {
    /// Moves the appointment of `booking_id` to `[starts_at, ends_at)` (UTC instants, as
    /// [`Desk::free_slots`] offers them); answers the booking as GHL left it.
    pub async fn reschedule(
        &self,
        booking_id: &str,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    ) -> Result<BookingView, DeskError> {
        let booking = self.booking(booking_id).await?;
        let ghl_id = crate::attendance::standing_ghl_id(&booking)?;
        let summary = format!(
            "{} -> {}",
            crate::time::to_db(booking.starts_at),
            crate::time::to_db(starts_at)
        );
        let edit = AppointmentEdit {
            starts_at: Some(starts_at),
            ends_at: Some(ends_at),
            ..Default::default()
        };
        let (booking, _) = self
            .edit_as("desk", "booking.reschedule", &summary, &ghl_id, edit)
            .await?;
        self.view_of(&booking).await
    }
}
