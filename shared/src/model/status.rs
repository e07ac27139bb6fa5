//! The states a row can be in, as Rust enums stored as `SMALLINT`: the database holds the number,
//! the code never does. An unknown number read back is an error naming it, not a guess.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::SmallInt;

/// Declares a `#[repr(i16)]` enum stored as `SMALLINT` on every backend, with its conversions.
macro_rules! stored_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
        #[diesel(sql_type = SmallInt)]
        #[repr(i16)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $value,)+
        }

        impl $name {
            /// Every value, in the order of their numbers.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The number stored for this value.
            pub const fn code(self) -> i16 {
                self as i16
            }
        }

        impl TryFrom<i16> for $name {
            type Error = UnknownCode;

            fn try_from(code: i16) -> Result<Self, UnknownCode> {
                match code {
                    $($value => Ok(Self::$variant),)+
                    _ => Err(UnknownCode { what: stringify!($name), code }),
                }
            }
        }

        impl<DB: Backend> ToSql<SmallInt, DB> for $name
        where
            i16: ToSql<SmallInt, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                // A reference that lives as long as `self`: the literal is promoted to a static.
                let code: &'static i16 = match self {
                    $(Self::$variant => &$value,)+
                };
                code.to_sql(out)
            }
        }

        impl<DB: Backend> FromSql<SmallInt, DB> for $name
        where
            i16: FromSql<SmallInt, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                Ok(Self::try_from(i16::from_sql(bytes)?)?)
            }
        }
    };
}

/// A stored number that names no value of its type (a row written by a newer Herald, or edited).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("{code} is not a known {what}")]
pub struct UnknownCode {
    /// The type it was read as.
    pub what: &'static str,
    /// The number.
    pub code: i16,
}

stored_enum! {
    /// Where a delivery (one message to one endpoint) stands.
    pub enum DeliveryStatus {
        /// Waiting for its first attempt (or put back by hand).
        Pending = 0,
        /// Held by a worker until its lease ends.
        Sending = 1,
        /// Delivered (2xx).
        Succeeded = 2,
        /// Last attempt failed; another is scheduled.
        Failed = 3,
        /// Every attempt failed; no more.
        Exhausted = 4,
    }
}

impl DeliveryStatus {
    /// The states a worker may take a delivery in once its time has come (a held delivery's
    /// time is the end of its lease). The partial index `delivery_due_idx` has exactly this list:
    /// a test checks the migrations against it.
    pub const DUE: [Self; 3] = [Self::Pending, Self::Sending, Self::Failed];

    /// The state as Svix's `MessageStatus` shows it.
    pub fn message_status(self) -> MessageStatus {
        match self {
            Self::Succeeded => MessageStatus::Success,
            Self::Exhausted => MessageStatus::Fail,
            Self::Sending => MessageStatus::Sending,
            Self::Pending | Self::Failed => MessageStatus::Pending,
        }
    }

    /// The delivery states Svix's `MessageStatus` `shown` stands for.
    pub fn showing(shown: MessageStatus) -> &'static [Self] {
        match shown {
            MessageStatus::Success => &[Self::Succeeded],
            MessageStatus::Pending => &[Self::Pending, Self::Failed],
            MessageStatus::Fail => &[Self::Exhausted],
            MessageStatus::Sending => &[Self::Sending],
        }
    }

    /// Whether another attempt is scheduled (its time is the next attempt's).
    pub fn retrying(self) -> bool {
        matches!(self, Self::Pending | Self::Failed)
    }
}

stored_enum! {
    /// Svix's `MessageStatus`: how an attempt went, and how a delivery shows in the API.
    pub enum MessageStatus {
        /// 2xx received.
        Success = 0,
        /// Not made yet, or another is due.
        Pending = 1,
        /// Failed (for a delivery: for good).
        Fail = 2,
        /// In progress.
        Sending = 3,
    }
}

impl MessageStatus {
    /// Svix's `statusText`.
    pub fn text(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Pending => "pending",
            Self::Fail => "fail",
            Self::Sending => "sending",
        }
    }
}

impl serde::Serialize for MessageStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i16(self.code())
    }
}

stored_enum! {
    /// What started a delivery or an attempt (Svix's `MessageAttemptTriggerType`).
    pub enum TriggerType {
        /// The retry schedule.
        Scheduled = 0,
        /// A person: resend, recover, send-example.
        Manual = 1,
    }
}

impl serde::Serialize for TriggerType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i16(self.code())
    }
}

stored_enum! {
    /// Where an idempotency key stands.
    pub enum KeyState {
        /// A request holds it and is working.
        InProgress = 0,
        /// Its response is stored.
        Done = 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_as_its_value() {
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::try_from(s.code()).ok(), Some(*s));
        }
        for s in MessageStatus::ALL {
            assert_eq!(MessageStatus::try_from(s.code()).ok(), Some(*s));
        }
    }

    #[test]
    fn an_unknown_code_is_an_error_naming_it() {
        let e = DeliveryStatus::try_from(9).unwrap_err();
        assert_eq!(e.to_string(), "9 is not a known DeliveryStatus");
    }

    #[test]
    fn each_message_status_shows_the_delivery_states_that_map_to_it() {
        for shown in MessageStatus::ALL {
            for s in DeliveryStatus::showing(*shown) {
                assert_eq!(s.message_status(), *shown);
            }
        }
        let covered: usize = MessageStatus::ALL.iter().map(|m| DeliveryStatus::showing(*m).len()).sum();
        assert_eq!(covered, DeliveryStatus::ALL.len(), "every delivery state shows as one status");
    }
}

stored_enum! {
    /// What disabled an endpoint.
    #[derive(serde::Serialize)]
    #[serde(rename_all = "lowercase")]
    pub enum Trigger {
        /// It only failed for `delivery.disable_endpoint_after`.
        Automatic = 0,
        /// An API call set `disabled`.
        Manual = 1,
    }
}
