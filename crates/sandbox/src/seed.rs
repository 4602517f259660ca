//! The seed data every fresh (or reset) sandbox holds: two calendars in the location, each
//! with one team member, and a few contacts. Ids are fixed so demo mode and tests can name them.

use chrono::{DateTime, Utc};

use crate::ghl::calendars::OpenHours;
use crate::ghl::{Calendar, Contact};

/// "Consulta general": 30-minute slots every 30 minutes, every day 08:00–20:00 local time.
pub const CONSULTA_GENERAL_CALENDAR_ID: &str = "CalConsultaGeneral01";
/// "Odontología": 60-minute slots every 60 minutes, Monday–Saturday 09:00–18:00 local time.
pub const ODONTOLOGIA_CALENDAR_ID: &str = "CalOdontologia000001";
/// The calendar group both calendars belong to.
pub const CALENDAR_GROUP_ID: &str = "GrpClinicaDemo000001";
/// Team member of "Consulta general".
pub const CONSULTA_GENERAL_USER_ID: &str = "UsrDraLuciaRamos0001";
/// Team member of "Odontología".
pub const ODONTOLOGIA_USER_ID: &str = "UsrDrJorgeQuispe0001";

/// A seeded contact: (first name, last name, phone, email).
pub const CONTACTS: [(&str, &str, &str, &str); 4] = [
    (
        "María",
        "Flores Huamán",
        "+51987654321",
        "maria.flores@example.com",
    ),
    (
        "José",
        "Quispe Mamani",
        "+51912345678",
        "jose.quispe@example.com",
    ),
    (
        "Ana",
        "Torres Vargas",
        "+51998877665",
        "ana.torres@example.com",
    ),
    (
        "Luis",
        "Rojas Chávez",
        "+51955443322",
        "luis.rojas@example.com",
    ),
];

/// Fixed ids of the seeded contacts, in the order of [`CONTACTS`].
pub const CONTACT_IDS: [&str; 4] = [
    "CntMariaFlores000001",
    "CntJoseQuispe0000001",
    "CntAnaTorres00000001",
    "CntLuisRojas00000001",
];

pub(crate) fn calendars(location_id: &str) -> Vec<Calendar> {
    vec![
        Calendar {
            id: CONSULTA_GENERAL_CALENDAR_ID.into(),
            location_id: location_id.into(),
            group_id: CALENDAR_GROUP_ID.into(),
            name: "Consulta general".into(),
            description: "Consulta de medicina general".into(),
            team_members: vec![CONSULTA_GENERAL_USER_ID.into()],
            slot_duration_mins: 30,
            slot_interval_mins: 30,
            appointments_per_slot: 1,
            open_hours: vec![OpenHours {
                days_of_week: (0..=6).collect(),
                ranges: vec![(8 * 60, 20 * 60)],
            }],
            auto_confirm: true,
            is_active: true,
        },
        Calendar {
            id: ODONTOLOGIA_CALENDAR_ID.into(),
            location_id: location_id.into(),
            group_id: CALENDAR_GROUP_ID.into(),
            name: "Odontología".into(),
            description: "Atención odontológica".into(),
            team_members: vec![ODONTOLOGIA_USER_ID.into()],
            slot_duration_mins: 60,
            slot_interval_mins: 60,
            appointments_per_slot: 1,
            open_hours: vec![OpenHours {
                days_of_week: (1..=6).collect(),
                ranges: vec![(9 * 60, 18 * 60)],
            }],
            auto_confirm: true,
            is_active: true,
        },
    ]
}

pub(crate) fn contacts(location_id: &str, now: DateTime<Utc>) -> Vec<Contact> {
    CONTACTS
        .iter()
        .zip(CONTACT_IDS)
        .map(|((first, last, phone, email), id)| {
            let mut contact = Contact::new(location_id, first, last, phone, email, now);
            contact.id = id.to_owned();
            contact
        })
        .collect()
}
