//! Option values on the wire: strings, with a missing value as `__None__`
//! (the original's convention, which its clients rely on).

use sparts_core::{AdminErrorKind, Peer};
use zbus::zvariant::{OwnedValue, Str, Value};

use crate::admin_error::{self, AdminError};

/// How the original spelled a missing value on D-Bus.
pub(crate) const NONE: &str = "__None__";

/// A D-Bus caller: local to the machine, so trusted like a unix socket peer.
pub(crate) const PEER: Peer = Peer::Unix;

/// An option's value as a string, `__None__` when unset.
pub(crate) fn or_none(value: Option<String>) -> String {
    value.unwrap_or_else(|| NONE.to_owned())
}

/// An option's value as a variant holding a string, `__None__` when unset.
pub(crate) fn variant(value: Option<String>) -> OwnedValue {
    OwnedValue::from(Str::from(or_none(value)))
}

/// The text an option is set to from a variant: strings as they are,
/// numbers and booleans written out, since options parse from text.
pub(crate) fn text(value: &Value<'_>) -> admin_error::Result<String> {
    let text = match value {
        Value::Str(s) => s.as_str().to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::U8(n) => n.to_string(),
        Value::I16(n) => n.to_string(),
        Value::U16(n) => n.to_string(),
        Value::I32(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        Value::F64(n) => n.to_string(),
        Value::Value(inner) => return text(inner),
        other => {
            return Err(AdminError::new(
                AdminErrorKind::InvalidArgument,
                format!(
                    "an option value must be a string, number or boolean, not `{}`",
                    other.value_signature()
                ),
            ));
        }
    };
    if text == NONE {
        return Err(AdminError::new(
            AdminErrorKind::InvalidArgument,
            format!("an option cannot be unset ({NONE}); give it a value"),
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_option_text() {
        assert_eq!(text(&Value::from("1.5")).expect("str"), "1.5");
        assert_eq!(text(&Value::from(7_i32)).expect("i32"), "7");
        assert_eq!(text(&Value::from(true)).expect("bool"), "true");
        assert_eq!(text(&Value::from(0.25_f64)).expect("f64"), "0.25");
        assert!(text(&Value::from(NONE)).is_err());
        assert!(text(&Value::from(vec![1_u8])).is_err());
    }

    #[test]
    fn missing_values_travel_as_none_marker() {
        assert_eq!(or_none(None), "__None__");
        assert_eq!(or_none(Some("x".into())), "x");
    }
}
