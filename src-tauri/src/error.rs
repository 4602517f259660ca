//! The error every command returns: `{ code, message, details? }` with the stable codes of
//! DESIGN §5. The UI translates `code`; `message` is secondary text and never holds secrets.

use desk::{DeskError, ErrorCode};
use serde::Serialize;

/// A command's failure as the UI receives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<ErrorDetails>,
}

/// Extra facts about an error, e.g. the form field it is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorDetails {
    pub field: String,
}

impl CommandError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
        }
    }
}

impl From<DeskError> for CommandError {
    fn from(e: DeskError) -> Self {
        if let DeskError::Internal(detail) = &e {
            tracing::error!(%detail, "internal error");
        }
        CommandError {
            code: e.code(),
            message: e.public_message(),
            details: e.field().map(|f| ErrorDetails {
                field: f.to_string(),
            }),
        }
    }
}
