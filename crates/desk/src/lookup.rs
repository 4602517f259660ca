//! Reading what is stored, for the screens and APIs that show it: a day's agenda, one
//! booking or charge, the latest bookings and charges, and whether storage answers. Hosts
//! read through these methods rather than the [`crate::store::Store`], so the domain alone
//! owns SQL.

use crate::desk::Desk;
use crate::error::DeskError;
use crate::model::{Booking, Charge, ChargeStatus, Payment};
use crate::view::BookingView;

/// A charge with what belongs to it: its booking and every payment MP reported for it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargeDetail {
    pub charge: Charge,
    /// `None` only if the booking row is gone.
    pub booking: Option<Booking>,
    pub payments: Vec<Payment>,
}

impl Desk {
    /// Answers when the database does.
    pub async fn health(&self) -> Result<(), DeskError> {
        Ok(self.store.ping().await?)
    }

    /// The agenda of one local day (`YYYY-MM-DD`) in the clinic's zone.
    pub async fn agenda(&self, day: &str) -> Result<Vec<BookingView>, DeskError> {
        let tz = self.clinic.timezone;
        let (from, until) = crate::time::local_day(tz, day)?;
        let rows = self.store.agenda(from, until).await?;
        let names = self.calendar_names().await;
        let mut views = Vec::with_capacity(rows.len());
        for (b, c) in &rows {
            let view = BookingView::of(b, c.as_ref(), names(&b.calendar_id), tz);
            views.push(self.with_desk_payment(view, c.as_ref()).await?);
        }
        Ok(views)
    }

    /// Adds the desk payment to a view whose charge may have one (only charges paid at the
    /// desk, or in review after it, are looked up).
    async fn with_desk_payment(
        &self,
        mut view: BookingView,
        charge: Option<&Charge>,
    ) -> Result<BookingView, DeskError> {
        let Some(c) = charge.filter(|c| {
            matches!(
                c.status,
                ChargeStatus::PaidAtDesk | ChargeStatus::NeedsReview
            )
        }) else {
            return Ok(view);
        };
        let desk = self.store.desk_payment(&c.id).await?;
        view.charge = view.charge.map(|v| v.with_desk(desk.as_ref()));
        Ok(view)
    }

    /// One booking as staff see it.
    pub async fn view_of(&self, booking: &Booking) -> Result<BookingView, DeskError> {
        let charge = self.store.charge_of_booking(&booking.id).await?;
        let names = self.calendar_names().await;
        let view = BookingView::of(
            booking,
            charge.as_ref(),
            names(&booking.calendar_id),
            self.clinic.timezone,
        );
        self.with_desk_payment(view, charge.as_ref()).await
    }

    /// The booking `booking_id` as staff see it; `NotFound` when there is none.
    pub async fn booking_view(&self, booking_id: &str) -> Result<BookingView, DeskError> {
        let booking = self.booking(booking_id).await?;
        self.view_of(&booking).await
    }

    /// The booking `booking_id` with its charge, if it has one; `NotFound` when there is none.
    pub async fn booking_with_charge(
        &self,
        booking_id: &str,
    ) -> Result<(Booking, Option<Charge>), DeskError> {
        let booking = self.booking(booking_id).await?;
        let charge = self.store.charge_of_booking(booking_id).await?;
        Ok((booking, charge))
    }

    /// The latest bookings by start time, newest first.
    pub async fn recent_bookings(&self, limit: i64) -> Result<Vec<Booking>, DeskError> {
        Ok(self.store.recent_bookings(limit).await?)
    }

    /// The latest charges by last change, newest first, each with its booking and payments.
    pub async fn recent_charges(&self, limit: i64) -> Result<Vec<ChargeDetail>, DeskError> {
        let charges = self.store.recent_charges(limit).await?;
        let mut out = Vec::with_capacity(charges.len());
        for charge in charges {
            let booking = self.store.booking(&charge.booking_id).await?;
            let payments = self.store.payments_of_charge(&charge.id).await?;
            out.push(ChargeDetail {
                charge,
                booking,
                payments,
            });
        }
        Ok(out)
    }

    /// A charge by id.
    pub async fn charge(&self, id: &str) -> Result<Charge, DeskError> {
        self.store
            .charge(id)
            .await?
            .ok_or_else(|| DeskError::NotFound("charge".into()))
    }

    /// A booking by id.
    pub(crate) async fn booking(&self, id: &str) -> Result<Booking, DeskError> {
        self.store
            .booking(id)
            .await?
            .ok_or_else(|| DeskError::NotFound("booking".into()))
    }

    async fn calendar_names(&self) -> impl Fn(&str) -> Option<String> + use<> {
        let cals = self.calendars().await.unwrap_or_default();
        move |id: &str| cals.iter().find(|c| c.id == id).map(|c| c.name.clone())
    }
}
