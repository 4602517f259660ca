//! Booking with payment (DESIGN §4): validate, store the booking and a draft charge
//! together, create the GHL appointment with slot validation, then the MP link. A retry with
//! the same idempotency key returns the same booking.

use crate::desk::Desk;
use crate::effect::Effect;
use crate::error::DeskError;
use crate::model::*;
use crate::money::Money;
use crate::ports::*;
use crate::time::now;
use crate::view::BookingView;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};

/// A booking as staff ask for it.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateBooking {
    /// Fresh per attempt from the UI; reused on retries of that attempt.
    pub idempotency_key: String,
    pub calendar_id: String,
    pub patient_name: String,
    pub patient_phone: Option<String>,
    /// A GHL contact id when the caller already has one (compat API).
    pub contact_id: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The appointment's title in GHL; `None` composes "description - patient".
    pub title: Option<String>,
    /// Decimal text as typed ("80.00").
    pub amount: String,
    pub description: String,
    /// `desk` or `api`.
    pub source: String,
}

const MAX_NAME: usize = 200;
const MAX_KEY: usize = 128;

impl Desk {
    /// Turns a local date and times typed at the desk into UTC instants in the clinic's zone.
    pub fn local_slot(
        &self,
        date: &str,
        start: &str,
        end: &str,
    ) -> Result<(DateTime<Utc>, DateTime<Utc>), DeskError> {
        let day = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
            .map_err(|_| DeskError::validation("date", "the date must be YYYY-MM-DD"))?;
        let at = |field: &str, text: &str| -> Result<DateTime<Utc>, DeskError> {
            let t = NaiveTime::parse_from_str(text.trim(), "%H:%M")
                .map_err(|_| DeskError::validation(field, "the time must be HH:MM"))?;
            self.clinic
                .timezone
                .from_local_datetime(&day.and_time(t))
                .earliest()
                .map(|l| l.with_timezone(&Utc))
                .ok_or_else(|| DeskError::validation(field, "that time does not exist locally"))
        };
        Ok((at("startTime", start)?, at("endTime", end)?))
    }

    /// Books an appointment and opens its payment link (DESIGN §4, "Booking with payment").
    pub async fn create_booking(&self, req: CreateBooking) -> Result<BookingView, DeskError> {
        let (money, calendar) = self.validate(&req).await?;
        if let Some(existing) = self
            .store
            .booking_by_idempotency_key(&req.idempotency_key)
            .await?
        {
            // A retry of an attempt GHL refused tries again (nothing exists anywhere for it);
            // any other retry answers with the booking as it stands.
            return match self.revive_failed(existing).await? {
                Revival::Again(booking, charge) => {
                    self.place_and_open(&req, &calendar, booking, charge).await
                }
                Revival::AsItStands(booking) => self.view_of(&booking).await,
            };
        }
        let (booking, charge) = self.draft(&req, money, &calendar);
        match self.store.insert_booking(&booking, &charge).await {
            Ok(()) => {}
            Err(crate::store::StoreError::Conflict(_)) => {
                // A concurrent retry with the same key won the insert: answer with its booking.
                let existing = self
                    .store
                    .booking_by_idempotency_key(&req.idempotency_key)
                    .await?
                    .ok_or_else(|| DeskError::Conflict("duplicate booking".into()))?;
                return self.view_of(&existing).await;
            }
            Err(e) => return Err(e.into()),
        }
        self.audit(
            "desk",
            "booking.create",
            "booking",
            &booking.id,
            &booking.title,
        )
        .await;
        self.place_and_open(&req, &calendar, booking, charge).await
    }

    /// A failed booking whose key is retried: back to pending with its draft charge, so the
    /// retry places it again — unless it is not a clean failure (it reached GHL, its link was
    /// made) or a concurrent retry revived it first.
    async fn revive_failed(&self, mut booking: Booking) -> Result<Revival, DeskError> {
        if booking.sync != SyncState::Failed || booking.ghl_id.is_some() {
            return Ok(Revival::AsItStands(booking));
        }
        let Some(mut charge) = self.store.charge_of_booking(&booking.id).await? else {
            return Ok(Revival::AsItStands(booking));
        };
        // Only a charge that was never offered to the patient may become a draft again.
        if charge.status != ChargeStatus::Cancelled || charge.preference_id.is_some() {
            return Ok(Revival::AsItStands(booking));
        }
        let before = booking.clone();
        booking.sync = SyncState::Pending;
        booking.last_error = None;
        match self.store.update_booking(&booking).await {
            Ok(v) => booking.version = v,
            // Another retry revived it first: it is placing it now.
            Err(crate::store::StoreError::Conflict(_)) => return Ok(Revival::AsItStands(before)),
            Err(e) => return Err(e.into()),
        }
        charge.status = ChargeStatus::Draft;
        charge.version = self.store.update_charge(&charge).await?;
        self.audit(
            "desk",
            "booking.retry",
            "booking",
            &booking.id,
            &booking.title,
        )
        .await;
        Ok(Revival::Again(booking, charge))
    }

    /// Places a stored (pending) booking in GHL and opens its link.
    async fn place_and_open(
        &self,
        req: &CreateBooking,
        calendar: &CalendarInfo,
        mut booking: Booking,
        mut charge: Charge,
    ) -> Result<BookingView, DeskError> {
        if let Err(refusal) = self.place_in_calendar(req, calendar, &mut booking).await {
            let e = match refusal {
                Placement::Refused(e) => e,
                Placement::Unknown(e) => {
                    // GHL may hold it or not and cannot be asked now: the booking stays
                    // pending, holding its draft charge, until the reconciler finds the
                    // appointment (adopted, link created) or its absence (failed).
                    booking.last_error = Some(e.public_message());
                    booking.version = self.store.update_booking(&booking).await?;
                    self.audit(
                        "desk",
                        "booking.uncertain",
                        "booking",
                        &booking.id,
                        "GHL did not answer",
                    )
                    .await;
                    tracing::warn!(booking = %booking.id, "GHL did not answer; the reconciler will settle the booking");
                    return Err(DeskError::ProviderUnavailable {
                        provider: "GoHighLevel",
                        detail: "no answer; the booking is checked again automatically".into(),
                    });
                }
            };
            self.fail_booking(&mut booking, Some(&mut charge), e.public_message())
                .await?;
            tracing::info!(booking = %booking.id, code = ?e.code(), "booking refused by GHL");
            return Err(e);
        }
        booking.version = self.store.update_booking(&booking).await?;
        self.open_link(&booking, &mut charge).await?;
        self.view_of(&booking).await
    }

    async fn validate(&self, req: &CreateBooking) -> Result<(Money, CalendarInfo), DeskError> {
        let key = req.idempotency_key.trim();
        if key.is_empty() || key.len() > MAX_KEY {
            return Err(DeskError::validation(
                "idempotencyKey",
                "an idempotency key of 1-128 characters is required",
            ));
        }
        if req.calendar_id.trim().is_empty() {
            return Err(DeskError::validation("calendarId", "choose a calendar"));
        }
        let name = req.patient_name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(DeskError::validation(
                "patientName",
                "the patient's name is required (at most 200 characters)",
            ));
        }
        if let Some(phone) = req
            .patient_phone
            .as_deref()
            .filter(|p| !p.trim().is_empty())
        {
            validate_phone(phone)?;
        }
        if req.ends_at <= req.starts_at {
            return Err(DeskError::validation(
                "endTime",
                "the end must be after the start",
            ));
        }
        if req.starts_at < now() {
            return Err(DeskError::validation(
                "startTime",
                "the start is in the past",
            ));
        }
        if let Some(contact) = &req.contact_id
            && !is_ghl_id(contact)
        {
            return Err(DeskError::validation("contactId", "not a contact id"));
        }
        let money = Money::parse_charge(&req.amount, self.clinic.currency)
            .map_err(|e| DeskError::validation("amount", e.to_string()))?;
        let description = req.description.trim();
        if description.is_empty() || description.chars().count() > 200 {
            return Err(DeskError::validation(
                "description",
                "a description is required (at most 200 characters)",
            ));
        }
        let calendar = self
            .calendars()
            .await?
            .into_iter()
            .find(|c| c.id == req.calendar_id)
            .ok_or_else(|| DeskError::validation("calendarId", "unknown calendar"))?;
        // A contact GHL does not know would be refused only after the booking is stored.
        if let Some(contact) = &req.contact_id {
            match self.scheduler.contact_exists(contact).await {
                Ok(()) => {}
                Err(DeskError::NotFound(_)) => {
                    return Err(DeskError::validation("contactId", "unknown contact"));
                }
                Err(e) => return Err(e),
            }
        }
        Ok((money, calendar))
    }

    fn draft(
        &self,
        req: &CreateBooking,
        money: Money,
        calendar: &CalendarInfo,
    ) -> (Booking, Charge) {
        let at = now();
        let booking = Booking {
            id: new_id(),
            ghl_id: None,
            location_id: self.clinic.location_id.clone(),
            calendar_id: calendar.id.clone(),
            contact_id: req.contact_id.clone(),
            patient_name: req.patient_name.trim().to_string(),
            title: req
                .title
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| {
                    format!("{} - {}", req.description.trim(), req.patient_name.trim())
                }),
            status: "new".into(),
            sync: SyncState::Pending,
            starts_at: req.starts_at,
            ends_at: req.ends_at,
            assigned_user_id: calendar.default_user_id.clone(),
            notes: None,
            source: req.source.clone(),
            ghl_date_added: None,
            ghl_date_updated: None,
            idempotency_key: req.idempotency_key.trim().to_string(),
            last_error: None,
            version: 1,
            created_at: at,
            updated_at: at,
        };
        let charge = Charge {
            id: new_id(),
            booking_id: booking.id.clone(),
            money,
            description: req.description.trim().to_string(),
            preference_id: None,
            init_point: None,
            status: ChargeStatus::Draft,
            expires_at: None,
            paid_at: None,
            version: 1,
            created_at: at,
            updated_at: at,
        };
        (booking, charge)
    }

    async fn place_in_calendar(
        &self,
        req: &CreateBooking,
        calendar: &CalendarInfo,
        booking: &mut Booking,
    ) -> Result<(), Placement> {
        let contact_id = match &booking.contact_id {
            Some(id) => id.clone(),
            None => self
                .scheduler
                .find_or_create_contact(
                    &self.clinic.location_id,
                    booking.patient_name.as_str(),
                    req.patient_phone
                        .as_deref()
                        .filter(|p| !p.trim().is_empty()),
                )
                .await
                .map_err(Placement::Refused)?,
        };
        booking.contact_id = Some(contact_id.clone());
        let request = AppointmentRequest {
            location_id: self.clinic.location_id.clone(),
            calendar_id: calendar.id.clone(),
            contact_id,
            title: booking.title.clone(),
            starts_at: booking.starts_at,
            ends_at: booking.ends_at,
            timezone: self.clinic.timezone,
            assigned_user_id: booking.assigned_user_id.clone(),
        };
        let created = match self.scheduler.create_appointment(&request).await {
            Ok(created) => created,
            // No answer (a timeout, a 5xx): GHL may have made it anyway. Look at the slot.
            Err(e @ DeskError::ProviderUnavailable { .. }) => {
                match self.created_after_all(&request).await {
                    Ok(Some(found)) => {
                        tracing::info!(booking = %booking.id, "GHL made the appointment; its answer was lost");
                        found
                    }
                    Ok(None) => return Err(Placement::Refused(e)),
                    Err(_) => return Err(Placement::Unknown(e)),
                }
            }
            Err(e) => return Err(Placement::Refused(e)),
        };
        booking.ghl_id = Some(created.ghl_id);
        booking.status = created.status;
        booking.sync = SyncState::Synced;
        booking.last_error = None;
        Ok(())
    }

    /// GHL holds nothing for this booking: it failed, and its draft charge — never offered to
    /// the patient — is cancelled.
    pub(crate) async fn fail_booking(
        &self,
        booking: &mut Booking,
        charge: Option<&mut Charge>,
        why: String,
    ) -> Result<(), DeskError> {
        booking.sync = SyncState::Failed;
        booking.last_error = Some(why);
        booking.version = self.store.update_booking(booking).await?;
        if let Some(charge) = charge.filter(|c| c.status == ChargeStatus::Draft) {
            charge.status = ChargeStatus::Cancelled;
            charge.version = self.store.update_charge(charge).await?;
        }
        Ok(())
    }

    /// The appointment `request` asked for, if GHL holds it: same calendar, contact, start
    /// and end, not cancelled. An error when GHL cannot be asked.
    async fn created_after_all(
        &self,
        request: &AppointmentRequest,
    ) -> Result<Option<CreatedAppointment>, DeskError> {
        let around = chrono::Duration::minutes(1);
        let listed = self
            .scheduler
            .appointments_between(
                &request.location_id,
                &request.calendar_id,
                request.starts_at - around,
                request.ends_at + around,
            )
            .await;
        let events = listed.inspect_err(|e| {
            tracing::warn!(code = ?e.code(), "could not check whether GHL made the appointment");
        })?;
        Ok(events
            .into_iter()
            .find(|a| is_the_booked(a, &request.contact_id, request.starts_at, request.ends_at))
            .map(|a| CreatedAppointment {
                ghl_id: a.ghl_id,
                status: a.status,
            }))
    }

    /// Creates the MP link for a draft charge. A provider failure leaves the charge a draft
    /// with an outbox entry that the outbox worker retries, so the booking stands, the UI
    /// shows "link pending", and nothing is orphaned.
    pub(crate) async fn open_link(
        &self,
        booking: &Booking,
        charge: &mut Charge,
    ) -> Result<(), DeskError> {
        match self.try_open_link(booking, charge).await {
            Ok(()) => Ok(()),
            Err(DeskError::DbUnavailable) => Err(DeskError::DbUnavailable),
            Err(e) => {
                tracing::warn!(charge = %charge.id, code = ?e.code(), "payment link not created yet");
                let create = Effect::CreateLink {
                    charge_id: charge.id.clone(),
                };
                self.store
                    .enqueue(&create.owed_for_charge(&charge.id, Some(&e))?)
                    .await?;
                Ok(())
            }
        }
    }

    /// One attempt at the MP link: on success the charge is `open`.
    pub(crate) async fn try_open_link(
        &self,
        booking: &Booking,
        charge: &mut Charge,
    ) -> Result<(), DeskError> {
        // The same request on every attempt (so the client's "was it created after all?"
        // search recognises an earlier one), unless that window is nearly over.
        let ttl = chrono::Duration::from_std(self.clinic.link_ttl)
            .unwrap_or_else(|_| chrono::Duration::hours(24));
        let planned = charge.created_at + ttl;
        let expires_at = if planned > now() + chrono::Duration::minutes(10) {
            planned
        } else {
            now() + ttl
        };
        let request = LinkRequest {
            charge_id: charge.id.clone(),
            booking_id: booking.id.clone(),
            ghl_id: booking.ghl_id.clone(),
            money: charge.money,
            description: charge.description.clone(),
            notification_url: self.clinic.mp_notification_url(),
            expires_at,
        };
        let link = self.payments.create_link(&request).await?;
        charge.preference_id = Some(link.preference_id);
        charge.init_point = Some(link.init_point);
        charge.expires_at = Some(expires_at);
        charge.status = ChargeStatus::Open;
        charge.version = self.store.update_charge(charge).await?;
        self.audit(
            "desk",
            "charge.open",
            "charge",
            &charge.id,
            &charge.money.to_string(),
        )
        .await;
        Ok(())
    }
}

/// What a retried key finds.
enum Revival {
    /// A failed booking made pending again: place it.
    Again(Booking, Charge),
    AsItStands(Booking),
}

/// Why an appointment was not placed in GHL.
enum Placement {
    /// GHL refused, or holds nothing: the booking failed.
    Refused(DeskError),
    /// GHL did not answer and could not be asked whether it made it.
    Unknown(DeskError),
}

/// Whether `a` is the appointment booked for `contact_id` from `starts_at` to `ends_at`.
pub(crate) fn is_the_booked(
    a: &RemoteAppointment,
    contact_id: &str,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> bool {
    a.contact_id.as_deref() == Some(contact_id)
        && a.starts_at == starts_at
        && a.ends_at == ends_at
        && a.status != "cancelled"
}

/// A phone as staff type it: digits with an optional leading `+`, spaces and dashes.
fn validate_phone(phone: &str) -> Result<(), DeskError> {
    check_phone("patientPhone", phone)
}

/// The desk's phone rule, refusing with `VALIDATION` on `field`: 6-15 digits, an optional
/// leading `+`, spaces and dashes.
pub(crate) fn check_phone(field: &str, phone: &str) -> Result<(), DeskError> {
    let p = phone.trim();
    let digits = p.chars().filter(|c| c.is_ascii_digit()).count();
    let allowed = p
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || c == ' ' || c == '-' || (c == '+' && i == 0));
    if !allowed || !(6..=15).contains(&digits) {
        return Err(DeskError::validation(
            field,
            "the phone must have 6-15 digits, optionally starting with +",
        ));
    }
    Ok(())
}
