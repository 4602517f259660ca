//! Adapters from the real provider clients to the domain's [`crate::ports`], and GHL's
//! appointment webhooks read into [`AppointmentChange`]s: the one place where GHL and MP
//! wire types become clinic words.

use crate::error::DeskError;
use crate::model::AppointmentChange;
use crate::patients::{ContactKey, CreatedPatient, NewPatient, Patient};
use crate::ports::*;
use async_trait::async_trait;
use rust_decimal::Decimal;
use serde_json::json;

/// GHL's status for a booking made at the desk: the patient is in front of staff.
const DESK_APPOINTMENT_STATUS: &str = "confirmed";

#[async_trait]
impl Scheduler for ghl::Client {
    async fn appointment(&self, ghl_id: &str) -> Result<RemoteAppointment, DeskError> {
        remote(self.get_appointment(ghl_id).await?)
    }

    async fn location(&self, location_id: &str) -> Result<ClinicLocation, DeskError> {
        let loc = self.get_location(location_id).await?;
        Ok(ClinicLocation {
            name: loc.name.unwrap_or_else(|| loc.id.clone()),
            timezone: loc.timezone.unwrap_or_else(|| "UTC".into()),
        })
    }

    async fn calendars(&self, location_id: &str) -> Result<Vec<CalendarInfo>, DeskError> {
        let cals = self.list_calendars(location_id).await?;
        Ok(cals
            .into_iter()
            .filter(|c| c.is_active != Some(false))
            .map(|c| CalendarInfo {
                slot_minutes: c.slot_minutes(),
                default_user_id: c
                    .team_members
                    .iter()
                    .find(|m| m.is_primary == Some(true))
                    .or(c.team_members.first())
                    .map(|m| m.user_id.clone()),
                name: c.name.clone().unwrap_or_else(|| c.id.clone()),
                id: c.id,
            })
            .collect())
    }

    async fn find_or_create_contact(
        &self,
        location_id: &str,
        name: &str,
        phone: Option<&str>,
    ) -> Result<String, DeskError> {
        let upsert = ghl::ContactUpsert {
            location_id: location_id.to_string(),
            name: Some(name.to_string()),
            phone: phone.map(str::to_string),
            source: Some("Mostrador".into()),
            ..Default::default()
        };
        Ok(self.upsert_contact(&upsert).await?.contact.id)
    }

    async fn confirm_appointment(&self, ghl_id: &str) -> Result<(), DeskError> {
        let update = ghl::AppointmentUpdate {
            appointment_status: Some(ghl::AppointmentStatus::Confirmed),
            ..Default::default()
        };
        self.update_appointment(ghl_id, &update).await?;
        Ok(())
    }

    async fn add_contact_tag(&self, contact_id: &str, tag: &str) -> Result<(), DeskError> {
        self.add_contact_tags(contact_id, &[tag.to_string()])
            .await?;
        Ok(())
    }

    async fn add_contact_note(&self, contact_id: &str, body: &str) -> Result<(), DeskError> {
        let note = ghl::NewNote {
            body: body.to_string(),
            ..Default::default()
        };
        ghl::Client::add_contact_note(self, contact_id, &note).await?;
        Ok(())
    }

    async fn contact_exists(&self, contact_id: &str) -> Result<(), DeskError> {
        self.get_contact(contact_id).await?;
        Ok(())
    }

    async fn contact_has_note(&self, contact_id: &str, body: &str) -> Result<bool, DeskError> {
        let notes = self.list_contact_notes(contact_id).await?;
        Ok(notes.iter().any(|n| n.body.as_deref() == Some(body)))
    }

    async fn cancel_appointment(&self, ghl_id: &str) -> Result<RemoteAppointment, DeskError> {
        dated(self, ghl::Client::cancel_appointment(self, ghl_id).await?).await
    }

    async fn update_appointment(
        &self,
        ghl_id: &str,
        c: &AppointmentChanges,
    ) -> Result<RemoteAppointment, DeskError> {
        let tz = c.timezone.unwrap_or(chrono_tz::UTC);
        let slot = |t: &chrono::DateTime<chrono::Utc>| {
            ghl::client::format_slot_time(&t.with_timezone(&tz))
        };
        let update = ghl::AppointmentUpdate {
            title: c.title.clone(),
            appointment_status: c.status.as_deref().map(ghl::AppointmentStatus::from_wire),
            start_time: c.times.as_ref().map(|(s, _)| slot(s)),
            end_time: c.times.as_ref().map(|(_, e)| slot(e)),
            assigned_user_id: c.assigned_user_id.clone(),
            ..Default::default()
        };
        dated(
            self,
            ghl::Client::update_appointment(self, ghl_id, &update).await?,
        )
        .await
    }

    async fn appointments_between(
        &self,
        location_id: &str,
        calendar_id: &str,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<RemoteAppointment>, DeskError> {
        let query = ghl::EventsQuery {
            location_id: location_id.to_string(),
            start: from,
            end: to,
            calendar_id: Some(calendar_id.to_string()),
            user_id: None,
            group_id: None,
        };
        let events = self.list_events(&query).await?;
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            match remote(e) {
                Ok(a) => out.push(a),
                // One unreadable event must not hide the others.
                Err(e) => tracing::info!(code = ?e.code(), "GHL event skipped"),
            }
        }
        Ok(out)
    }

    async fn search_patients(
        &self,
        location_id: &str,
        query: &str,
        limit: u32,
    ) -> Result<Vec<Patient>, DeskError> {
        let search = ghl::ContactSearch {
            location_id: location_id.to_string(),
            page_limit: limit,
            query: Some(query.to_string()),
            ..Default::default()
        };
        let found = ghl::Client::search_contacts(self, &search).await?;
        Ok(found.contacts.into_iter().map(patient).collect())
    }

    async fn find_patient(
        &self,
        location_id: &str,
        key: &ContactKey,
    ) -> Result<Option<Patient>, DeskError> {
        let key = match key {
            ContactKey::Phone(p) => ghl::DuplicateKey::Phone(p.clone()),
            ContactKey::Email(e) => ghl::DuplicateKey::Email(e.clone()),
        };
        Ok(self
            .find_duplicate_contact(location_id, &key)
            .await?
            .map(patient))
    }

    async fn create_patient(
        &self,
        location_id: &str,
        p: &NewPatient,
    ) -> Result<CreatedPatient, DeskError> {
        let new = ghl::NewContact {
            location_id: location_id.to_string(),
            name: Some(p.name.clone()),
            phone: p.phone.clone(),
            email: p.email.clone(),
            source: Some("Mostrador".into()),
            ..Default::default()
        };
        match ghl::Client::create_contact(self, &new).await {
            Ok(c) => Ok(CreatedPatient {
                patient: patient(c),
                existing: false,
            }),
            // The duplicate lookup said no, GHL's create rule says yes (a contact made
            // meanwhile, or a rule that matches differently): that contact is the patient.
            Err(ghl::Error::DuplicateContact { contact_id, .. }) => Ok(CreatedPatient {
                patient: patient(self.get_contact(&contact_id).await?),
                existing: true,
            }),
            Err(e) => Err(e.into()),
        }
    }

    async fn free_slot_starts(
        &self,
        calendar_id: &str,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        timezone: &str,
    ) -> Result<Vec<chrono::DateTime<chrono::Utc>>, DeskError> {
        let query = ghl::FreeSlotsQuery {
            start: from,
            end: to,
            timezone: Some(timezone.to_string()),
            user_id: None,
        };
        let slots = ghl::Client::free_slots(self, calendar_id, &query).await?;
        let mut starts = Vec::new();
        for slot in slots.all() {
            match chrono::DateTime::parse_from_rfc3339(slot) {
                Ok(t) => starts.push(t.with_timezone(&chrono::Utc)),
                // One unreadable slot must not hide the others.
                Err(_) => tracing::info!("GHL free slot not readable; skipped"),
            }
        }
        Ok(starts)
    }

    async fn patient(&self, contact_id: &str) -> Result<Patient, DeskError> {
        Ok(patient(self.get_contact(contact_id).await?))
    }

    async fn send_message(&self, contact_id: &str, m: &OutgoingMessage) -> Result<(), DeskError> {
        let message = match m.channel {
            Channel::WhatsApp => ghl::OutboundMessage::whatsapp(contact_id, m.text.clone()),
            Channel::Sms => ghl::OutboundMessage::sms(contact_id, m.text.clone()),
            Channel::Email => ghl::OutboundMessage::email(
                contact_id,
                m.subject.clone(),
                m.text.clone(),
                m.html.clone(),
            ),
        };
        ghl::Client::send_message(self, &message).await?;
        Ok(())
    }

    async fn create_appointment(
        &self,
        r: &AppointmentRequest,
    ) -> Result<CreatedAppointment, DeskError> {
        let new = ghl::NewAppointment {
            calendar_id: r.calendar_id.clone(),
            location_id: r.location_id.clone(),
            contact_id: r.contact_id.clone(),
            start_time: ghl::client::format_slot_time(&r.starts_at.with_timezone(&r.timezone)),
            end_time: ghl::client::format_slot_time(&r.ends_at.with_timezone(&r.timezone)),
            title: Some(r.title.clone()),
            appointment_status: DESK_APPOINTMENT_STATUS.into(),
            assigned_user_id: r.assigned_user_id.clone(),
            ignore_free_slot_validation: false,
        };
        let created = ghl::Client::create_appointment(self, &new).await?;
        Ok(CreatedAppointment {
            status: created
                .appointment_status
                .unwrap_or_else(|| DESK_APPOINTMENT_STATUS.into()),
            ghl_id: created.id,
        })
    }
}

#[async_trait]
impl Payments for mercadopago::Client {
    async fn create_link(&self, r: &LinkRequest) -> Result<PaymentLink, DeskError> {
        let currency = r.money.currency().code().to_string();
        let mut metadata = serde_json::Map::new();
        metadata.insert("booking_id".into(), json!(r.booking_id));
        metadata.insert("charge_id".into(), json!(r.charge_id));
        if let Some(g) = &r.ghl_id {
            metadata.insert("ghl_appointment_id".into(), json!(g));
        }
        let request = mercadopago::PreferenceRequest {
            items: vec![mercadopago::Item {
                id: r.charge_id.clone(),
                title: r.description.clone(),
                quantity: 1,
                unit_price: r.money.amount(),
                currency_id: Some(currency),
            }],
            external_reference: r.charge_id.clone(),
            notification_url: r.notification_url.clone(),
            expires: true,
            expiration_date_from: None,
            expiration_date_to: Some(mercadopago::format_date(r.expires_at)),
            back_urls: None,
            auto_return: None,
            statement_descriptor: None,
            binary_mode: None,
            metadata,
        };
        let pref = self.create_preference(&request, &r.charge_id).await?;
        Ok(PaymentLink {
            preference_id: pref.id,
            init_point: pref.init_point,
        })
    }

    async fn payment(&self, id: i64) -> Result<ReportedPayment, DeskError> {
        Ok(reported(self.get_payment(id).await?))
    }

    async fn expire_link(&self, preference_id: &str) -> Result<(), DeskError> {
        self.expire_preference(preference_id, chrono::Utc::now())
            .await?;
        Ok(())
    }

    async fn live_link(&self, charge_id: &str) -> Result<Option<PaymentLink>, DeskError> {
        let found = self.search_preferences(charge_id, 30, 0).await?;
        let now = chrono::Utc::now();
        let live = found.elements.into_iter().find(|e| {
            let to = e
                .expiration_date_to
                .as_deref()
                .and_then(mercadopago::parse_date);
            e.external_reference.as_deref() == Some(charge_id)
                && !(e.expires == Some(true) && to.is_some_and(|t| t <= now))
        });
        match live {
            None => Ok(None),
            Some(summary) => {
                let full = self.get_preference(&summary.id).await?;
                Ok(Some(PaymentLink {
                    preference_id: full.id,
                    init_point: full.init_point,
                }))
            }
        }
    }

    async fn refund(
        &self,
        payment_id: i64,
        amount: Option<Decimal>,
        key: &str,
    ) -> Result<(), DeskError> {
        match amount {
            Some(a) => self.refund_partial(payment_id, a, key).await?,
            None => self.refund_payment(payment_id, key).await?,
        };
        Ok(())
    }

    async fn payments_for(&self, charge_id: &str) -> Result<Vec<ReportedPayment>, DeskError> {
        let found = self.search_payments(charge_id).await?;
        Ok(found.results.into_iter().map(reported).collect())
    }
}

/// GHL answers a write without `dateUpdated`; without it our change could not be ordered
/// against webhooks (an older echo arriving late would undo it). Read it back once.
async fn dated(
    client: &ghl::Client,
    written: ghl::Appointment,
) -> Result<RemoteAppointment, DeskError> {
    if written.date_updated.is_some() {
        return remote(written);
    }
    match client.get_appointment(&written.id).await {
        Ok(read) => remote(read),
        Err(e) => {
            tracing::info!(error = %e, "appointment written; its dateUpdated not read back");
            remote(written)
        }
    }
}

/// A GHL appointment in the domain's words; one without readable times is refused.
fn remote(a: ghl::Appointment) -> Result<RemoteAppointment, DeskError> {
    let time = |t: &Option<String>, field: &str| {
        t.as_deref()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&chrono::Utc))
            .ok_or_else(|| DeskError::ProviderUnavailable {
                provider: "GoHighLevel",
                detail: format!("appointment without a readable {field}"),
            })
    };
    Ok(RemoteAppointment {
        starts_at: time(&a.start_time, "startTime")?,
        ends_at: time(&a.end_time, "endTime")?,
        calendar_id: a.calendar_id.clone().unwrap_or_default(),
        contact_id: a.contact_id.clone(),
        title: a.title.clone().unwrap_or_else(|| "Cita".into()),
        status: a
            .appointment_status
            .clone()
            .unwrap_or_else(|| "confirmed".into()),
        assigned_user_id: a.assigned_user_id.clone(),
        notes: a.notes.clone(),
        date_added: a.date_added.clone(),
        date_updated: a.date_updated.clone(),
        ghl_id: a.id,
    })
}

/// A GHL contact as the desk's patient; the name falls back to first and last names.
fn patient(c: ghl::Contact) -> Patient {
    let name = c.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| {
        [c.first_name.as_deref(), c.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    });
    Patient {
        contact_id: c.id,
        name: name.trim().to_string(),
        phone: c.phone.filter(|p| !p.is_empty()),
        email: c.email.filter(|e| !e.is_empty()),
    }
}

/// A verified GHL webhook body in the domain's words.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GhlNotice {
    /// The location the event is for, when it names one.
    pub location_id: Option<String>,
    /// The appointment change it reports; `None` for other kinds of event, or an appointment
    /// without an id.
    pub change: Option<AppointmentChange>,
}

/// Reads a verified GHL webhook body (flat or `data` envelope); `None` when it is not
/// readable at all. Unreadable times read as not reported.
pub(crate) fn ghl_notice(body: &[u8]) -> Option<GhlNotice> {
    use ghl::webhook::{WebhookEvent, WebhookKind};
    let event = WebhookEvent::parse(body).ok()?;
    let deleted = match event.kind {
        WebhookKind::AppointmentCreate | WebhookKind::AppointmentUpdate => false,
        WebhookKind::AppointmentDelete => true,
        WebhookKind::Unknown(_) => {
            return Some(GhlNotice {
                location_id: event.location_id,
                change: None,
            });
        }
    };
    let instant = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    let change = event.appointment.and_then(|a| {
        Some(AppointmentChange {
            ghl_id: a.id.clone()?,
            deleted,
            starts_at: instant(&a.start_time),
            ends_at: instant(&a.end_time),
            calendar_id: a.calendar_id,
            contact_id: a.contact_id,
            title: a.title,
            status: a.appointment_status,
            assigned_user_id: a.assigned_user_id,
            notes: a.notes,
            date_added: a.date_added,
            date_updated: a.date_updated,
        })
    });
    Some(GhlNotice {
        location_id: event.location_id,
        change,
    })
}

fn reported(p: mercadopago::Payment) -> ReportedPayment {
    let date = |d: &Option<String>| d.as_deref().and_then(mercadopago::parse_date);
    ReportedPayment {
        id: p.id,
        status_detail: p.status_detail.clone(),
        external_reference: p.external_reference.clone(),
        amount: p.transaction_amount,
        currency: p.currency_id.clone(),
        amount_refunded: p.transaction_amount_refunded.unwrap_or(Decimal::ZERO),
        method: p.payment_method_id.clone(),
        date_created: date(&p.date_created),
        date_approved: date(&p.date_approved),
        date_last_updated: date(&p.date_last_updated),
        raw: p.raw.clone(),
        status: p.status,
    }
}
