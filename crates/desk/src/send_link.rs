//! Sending the payment link to a patient who is not at the desk: a prefilled Spanish message
//! (the clinic, the appointment's local date and time, the amount, the link) through GHL
//! conversations by WhatsApp, SMS or email to the booking's contact, or as a `wa.me` link the
//! UI opens itself.
//!
//! Only an `open` charge with a link is sent; anything else is `CONFLICT`, since a paid,
//! expired or cancelled link would only confuse the patient. The patient's phone and email
//! stay out of the audit and the logs: the audit line says which channel, nothing more.

use crate::desk::Desk;
use crate::error::DeskError;
use crate::model::{Booking, Charge, ChargeStatus};
use crate::money::Money;
use crate::patients::Patient;
use crate::ports::{Channel, OutgoingMessage};
use chrono::{DateTime, Datelike, Timelike};
use chrono_tz::Tz;

/// Shortest phone `wa.me` can dial, in digits (country code included).
const MIN_PHONE_DIGITS: usize = 8;

impl Channel {
    /// `whatsapp`, `sms` or `email`; anything else is `VALIDATION` on `channel`.
    pub fn parse(s: &str) -> Result<Self, DeskError> {
        match s.trim() {
            "whatsapp" => Ok(Channel::WhatsApp),
            "sms" => Ok(Channel::Sms),
            "email" => Ok(Channel::Email),
            _ => Err(DeskError::validation(
                "channel",
                "the channel is whatsapp, sms or email",
            )),
        }
    }

    /// The word [`Channel::parse`] reads.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::WhatsApp => "whatsapp",
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }
}

/// What a message about a booking's link is made of, once checked.
struct LinkContext {
    charge: Charge,
    link: String,
    patient: Patient,
    text: String,
}

impl Desk {
    /// Sends the patient of `booking_id` its open payment link by `channel`.
    pub async fn send_payment_link(
        &self,
        booking_id: &str,
        channel: Channel,
    ) -> Result<(), DeskError> {
        let ctx = self.link_context(booking_id).await?;
        match channel {
            Channel::WhatsApp | Channel::Sms if ctx.patient.phone.is_none() => {
                return Err(DeskError::validation(
                    "phone",
                    "the patient has no phone in GoHighLevel",
                ));
            }
            Channel::Email if ctx.patient.email.is_none() => {
                return Err(DeskError::validation(
                    "email",
                    "the patient has no email in GoHighLevel",
                ));
            }
            _ => {}
        }
        let message = OutgoingMessage {
            channel,
            subject: format!("Pago de su cita en {}", self.clinic.clinic_name),
            html: email_html(&ctx.text, &ctx.link),
            text: ctx.text,
        };
        self.scheduler
            .send_message(&ctx.patient.contact_id, &message)
            .await?;
        tracing::info!(charge = %ctx.charge.id, channel = channel.as_str(), "payment link sent");
        self.audit(
            "desk",
            "charge.link_sent",
            "charge",
            &ctx.charge.id,
            channel.as_str(),
        )
        .await;
        Ok(())
    }

    /// `https://wa.me/<digits>?text=<message>` for the patient of `booking_id`, for the UI to
    /// open; sends nothing. `VALIDATION` on `phone` when the contact has no usable phone.
    pub async fn whatsapp_link(&self, booking_id: &str) -> Result<String, DeskError> {
        let ctx = self.link_context(booking_id).await?;
        let digits: String = ctx
            .patient
            .phone
            .as_deref()
            .unwrap_or("")
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        if digits.len() < MIN_PHONE_DIGITS {
            return Err(DeskError::validation(
                "phone",
                "the patient has no phone in GoHighLevel",
            ));
        }
        Ok(format!(
            "https://wa.me/{digits}?text={}",
            percent_encode(&ctx.text)
        ))
    }

    /// The booking's open charge, its patient as GHL holds them, and the message to send.
    async fn link_context(&self, booking_id: &str) -> Result<LinkContext, DeskError> {
        let booking = self.booking(booking_id).await?;
        if booking.status == "cancelled" || booking.status == crate::ghl_events::DELETED {
            return Err(DeskError::Conflict(format!(
                "the appointment is {}",
                booking.status
            )));
        }
        let charge = self
            .store
            .charge_of_booking(&booking.id)
            .await?
            .ok_or_else(|| DeskError::Conflict("the appointment has no charge".into()))?;
        let link = match (&charge.init_point, charge.status) {
            (Some(link), ChargeStatus::Open) => link.clone(),
            (_, status) => {
                return Err(DeskError::Conflict(format!(
                    "only an open payment link can be sent; this charge is {}",
                    status.as_str()
                )));
            }
        };
        let patient = self.patient_of(&booking).await?;
        let text = payment_message(
            &self.clinic.clinic_name,
            first_name(&patient.name),
            booking.starts_at.with_timezone(&self.clinic.timezone),
            &charge.money,
            &link,
        );
        Ok(LinkContext {
            charge,
            link,
            patient,
            text,
        })
    }

    async fn patient_of(&self, booking: &Booking) -> Result<Patient, DeskError> {
        let contact_id = booking
            .contact_id
            .as_deref()
            .ok_or_else(|| DeskError::NotFound("the appointment's contact".into()))?;
        self.scheduler.patient(contact_id).await
    }
}

/// The message asking a patient to pay: the clinic, the appointment's local day and time,
/// the amount at the currency's scale, and the link. Every channel sends this text.
pub fn payment_message(
    clinic: &str,
    first_name: Option<&str>,
    at: DateTime<Tz>,
    money: &Money,
    link: &str,
) -> String {
    let greeting = match first_name {
        Some(name) => format!("Hola {name}"),
        None => "Hola".to_string(),
    };
    format!(
        "{greeting}, le escribimos de {clinic}.\n\
         Su cita es el {day} a las {hh:02}:{mm:02}.\n\
         Monto a pagar: {amount}.\n\
         Puede pagar aquí: {link}",
        day = spanish_day(at),
        hh = at.hour(),
        mm = at.minute(),
        amount = amount_text(money),
    )
}

/// "80.00 PEN", "5000 CLP": the exact decimal at the currency's scale, never a float.
fn amount_text(money: &Money) -> String {
    let mut amount = money.amount();
    amount.rescale(money.currency().scale());
    format!("{amount} {}", money.currency().code())
}

/// "martes 28 de noviembre".
fn spanish_day(at: DateTime<Tz>) -> String {
    const DAYS: [&str; 7] = [
        "lunes",
        "martes",
        "miércoles",
        "jueves",
        "viernes",
        "sábado",
        "domingo",
    ];
    const MONTHS: [&str; 12] = [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ];
    format!(
        "{} {} de {}",
        DAYS[at.weekday().num_days_from_monday() as usize],
        at.day(),
        MONTHS[at.month0() as usize]
    )
}

/// The first word of a contact's name, if it has one.
fn first_name(name: &str) -> Option<&str> {
    name.split_whitespace().next()
}

/// The email's HTML: the same text, escaped, with the link made clickable.
fn email_html(text: &str, link: &str) -> String {
    let body = text
        .lines()
        .map(html_escape)
        .collect::<Vec<_>>()
        .join("<br>");
    format!(
        "<p>{body}</p><p><a href=\"{href}\">Pagar ahora</a></p>",
        href = html_escape(link)
    )
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// RFC 3986 percent-encoding of UTF-8 text for a query value: only unreserved characters
/// are kept as they are.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use chrono::TimeZone;

    fn lima(y: i32, m: u32, d: u32, hh: u32, mm: u32) -> DateTime<Tz> {
        chrono_tz::America::Lima
            .with_ymd_and_hms(y, m, d, hh, mm, 0)
            .unwrap()
    }

    #[test]
    fn the_message_names_the_clinic_the_local_day_and_time_the_amount_and_the_link() {
        let money = Money::parse_charge("80", Currency::Pen).unwrap();
        let text = payment_message(
            "Clínica San Borja",
            Some("María"),
            lima(2026, 11, 28, 9, 5),
            &money,
            "https://mp.example/pay/1",
        );
        assert_eq!(
            text,
            "Hola María, le escribimos de Clínica San Borja.\n\
             Su cita es el sábado 28 de noviembre a las 09:05.\n\
             Monto a pagar: 80.00 PEN.\n\
             Puede pagar aquí: https://mp.example/pay/1"
        );
        let whole = Money::parse_charge("5000", Currency::Clp).unwrap();
        let text = payment_message("C", None, lima(2027, 1, 4, 16, 30), &whole, "L");
        assert!(text.starts_with("Hola, le escribimos de C."), "{text}");
        assert!(text.contains("lunes 4 de enero a las 16:30"), "{text}");
        assert!(text.contains("Monto a pagar: 5000 CLP."), "{text}");
    }

    #[test]
    fn channels_are_whatsapp_sms_or_email() {
        for c in [Channel::WhatsApp, Channel::Sms, Channel::Email] {
            assert_eq!(Channel::parse(c.as_str()).unwrap(), c);
        }
        for bad in ["", "WhatsApp", "telegram", "SMS"] {
            assert_eq!(Channel::parse(bad).unwrap_err().field(), Some("channel"));
        }
    }

    #[test]
    fn query_text_is_percent_encoded_as_utf8() {
        assert_eq!(percent_encode("a b&c=ñ\n"), "a%20b%26c%3D%C3%B1%0A");
        assert_eq!(percent_encode("A-z_0.9~"), "A-z_0.9~");
    }

    #[test]
    fn the_email_escapes_the_text_and_links_the_payment() {
        let html = email_html("a <b>\nc", "https://x/?a=1&b=2");
        assert_eq!(
            html,
            "<p>a &lt;b&gt;<br>c</p><p><a href=\"https://x/?a=1&amp;b=2\">Pagar ahora</a></p>"
        );
    }
}
