//! The event-name rule. An event name travels as the `x-event` HTTP header
//! and is what a flow's trigger matches, so it must survive a header intact:
//! ASCII, no control characters, nothing at either end that HTTP would trim.
//! Spaces inside a name are fine ("order shipped"): the service and the
//! Python SDK accept them.

use std::fmt;

use crate::printable;

/// The longest event name FlowFlex takes, in bytes.
pub const EVENT_NAME_MAX_BYTES: usize = 256;

/// How many characters of a refused name its message shows.
const SHOWN_CHARS: usize = 80;

/// Why an event name was refused. The message says what is wrong and what
/// to do, in words that suit both a build error and a send error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventNameError {
    /// The name is empty.
    Empty,
    /// The name is only whitespace.
    Blank,
    /// The name contains a control character (CR, LF, tab, NUL, DEL, C1).
    ControlCharacter {
        /// The name as given.
        name: String,
        /// The first control character in it.
        character: char,
    },
    /// The name begins or ends with whitespace, which HTTP trims from a header.
    SurroundingWhitespace {
        /// The name as given.
        name: String,
    },
    /// The name contains a character outside ASCII.
    NonAscii {
        /// The name as given.
        name: String,
        /// The first non-ASCII character in it.
        character: char,
    },
    /// The name is longer than [`EVENT_NAME_MAX_BYTES`].
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
}

/// Checks an event name: not empty or blank, no leading or trailing
/// whitespace, no control characters, ASCII only, at most
/// [`EVENT_NAME_MAX_BYTES`] bytes. Inner spaces are allowed.
///
/// ```
/// use flowflex_core::{EventNameError, check_event_name};
///
/// assert_eq!(check_event_name("order.shipped"), Ok(()));
/// assert_eq!(check_event_name("order shipped"), Ok(()));
/// assert_eq!(check_event_name(""), Err(EventNameError::Empty));
/// assert!(check_event_name("order.shipped ").is_err());
/// ```
pub fn check_event_name(name: &str) -> Result<(), EventNameError> {
    if name.is_empty() {
        return Err(EventNameError::Empty);
    }
    if name.trim().is_empty() {
        return Err(EventNameError::Blank);
    }
    if let Some(character) = name.chars().find(|c| c.is_control()) {
        return Err(EventNameError::ControlCharacter {
            name: name.to_owned(),
            character,
        });
    }
    if name.trim() != name {
        return Err(EventNameError::SurroundingWhitespace {
            name: name.to_owned(),
        });
    }
    if let Some(character) = name.chars().find(|c| !c.is_ascii()) {
        return Err(EventNameError::NonAscii {
            name: name.to_owned(),
            character,
        });
    }
    if name.len() > EVENT_NAME_MAX_BYTES {
        return Err(EventNameError::TooLong { len: name.len() });
    }
    Ok(())
}

impl fmt::Display for EventNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const GIVE: &str = "give the name your flow's trigger listens for, e.g. \"order.shipped\"";
        match self {
            EventNameError::Empty => write!(f, "the event name is empty: {GIVE}"),
            EventNameError::Blank => {
                write!(f, "the event name is blank (only whitespace): {GIVE}")
            }
            EventNameError::ControlCharacter { name, character } => write!(
                f,
                "the event name \"{}\" contains the control character {character:?}: it is sent as an HTTP header (x-event), which cannot carry control characters; remove it",
                printable(name, SHOWN_CHARS)
            ),
            EventNameError::SurroundingWhitespace { name } => {
                let starts = name.starts_with(char::is_whitespace);
                let ends = name.ends_with(char::is_whitespace);
                let place = match (starts, ends) {
                    (true, true) => "begins and ends",
                    (true, false) => "begins",
                    _ => "ends",
                };
                write!(
                    f,
                    "the event name \"{}\" {place} with whitespace: remove it; it is sent as an HTTP header (x-event), which loses whitespace at either end, so the name would not arrive as written (spaces inside the name, as in \"order shipped\", are fine)",
                    printable(name, SHOWN_CHARS)
                )
            }
            EventNameError::NonAscii { name, character } => write!(
                f,
                "the event name \"{}\" contains the non-ASCII character {character:?}: it is sent as an HTTP header (x-event), which carries ASCII only; use ASCII letters, digits, spaces and punctuation",
                printable(name, SHOWN_CHARS)
            ),
            EventNameError::TooLong { len } => write!(
                f,
                "the event name is {len} bytes long; FlowFlex takes at most {EVENT_NAME_MAX_BYTES}: use a shorter name"
            ),
        }
    }
}

impl std::error::Error for EventNameError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted() {
        for name in [
            "order.shipped",
            "a",
            "order shipped",
            "Order Shipped 2",
            "pedido.enviado",
            "order-shipped_v2:eu/west",
            "a  b",
            "~!@#$%^&*()[]{}<>?,;'\"\\|`=+",
            &"x".repeat(EVENT_NAME_MAX_BYTES),
        ] {
            assert_eq!(check_event_name(name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn refused() {
        use EventNameError as E;
        let control = |name: &str, character| E::ControlCharacter {
            name: name.to_owned(),
            character,
        };
        let surrounding = |name: &str| E::SurroundingWhitespace {
            name: name.to_owned(),
        };
        let non_ascii = |name: &str, character| E::NonAscii {
            name: name.to_owned(),
            character,
        };
        let long = "x".repeat(EVENT_NAME_MAX_BYTES + 1);
        for (name, expected) in [
            ("", E::Empty),
            (" ", E::Blank),
            ("   ", E::Blank),
            ("\t\r\n", E::Blank),
            ("\u{3000}", E::Blank),
            ("order\nshipped", control("order\nshipped", '\n')),
            ("order\r\nx-admin: 1", control("order\r\nx-admin: 1", '\r')),
            ("order\tshipped", control("order\tshipped", '\t')),
            ("order\0", control("order\0", '\0')),
            ("order\u{7f}", control("order\u{7f}", '\u{7f}')),
            (
                "order\u{85}shipped",
                control("order\u{85}shipped", '\u{85}'),
            ),
            ("order\u{9f}", control("order\u{9f}", '\u{9f}')),
            ("order.shipped\n", control("order.shipped\n", '\n')),
            (" order.shipped", surrounding(" order.shipped")),
            ("order.shipped ", surrounding("order.shipped ")),
            (" order shipped ", surrounding(" order shipped ")),
            ("order.shipped\u{a0}", surrounding("order.shipped\u{a0}")),
            ("pedido.envïado", non_ascii("pedido.envïado", 'ï')),
            (
                "order\u{2028}shipped",
                non_ascii("order\u{2028}shipped", '\u{2028}'),
            ),
            (
                "order\u{a0}shipped",
                non_ascii("order\u{a0}shipped", '\u{a0}'),
            ),
            ("😀", non_ascii("😀", '😀')),
            (&long, E::TooLong { len: 257 }),
        ] {
            assert_eq!(check_event_name(name), Err(expected), "{name:?}");
        }
    }

    /// The messages in full: the derive reports them at the attribute, the
    /// runtime in its configuration error.
    #[test]
    fn messages() {
        let message = |name: &str| check_event_name(name).unwrap_err().to_string();
        assert_eq!(
            message(""),
            "the event name is empty: give the name your flow's trigger listens for, e.g. \"order.shipped\""
        );
        assert_eq!(
            message("  "),
            "the event name is blank (only whitespace): give the name your flow's trigger listens for, e.g. \"order.shipped\""
        );
        assert_eq!(
            message("order\r\nshipped"),
            "the event name \"order\\r\\nshipped\" contains the control character '\\r': it is sent as an HTTP header (x-event), which cannot carry control characters; remove it"
        );
        assert_eq!(
            message("order\u{85}"),
            "the event name \"order\\u{85}\" contains the control character '\\u{85}': it is sent as an HTTP header (x-event), which cannot carry control characters; remove it"
        );
        assert_eq!(
            message(" order shipped"),
            "the event name \" order shipped\" begins with whitespace: remove it; it is sent as an HTTP header (x-event), which loses whitespace at either end, so the name would not arrive as written (spaces inside the name, as in \"order shipped\", are fine)"
        );
        assert_eq!(
            message("order shipped "),
            "the event name \"order shipped \" ends with whitespace: remove it; it is sent as an HTTP header (x-event), which loses whitespace at either end, so the name would not arrive as written (spaces inside the name, as in \"order shipped\", are fine)"
        );
        assert_eq!(
            message(" order shipped "),
            "the event name \" order shipped \" begins and ends with whitespace: remove it; it is sent as an HTTP header (x-event), which loses whitespace at either end, so the name would not arrive as written (spaces inside the name, as in \"order shipped\", are fine)"
        );
        assert_eq!(
            message("pedido.envïado"),
            "the event name \"pedido.envïado\" contains the non-ASCII character 'ï': it is sent as an HTTP header (x-event), which carries ASCII only; use ASCII letters, digits, spaces and punctuation"
        );
        assert_eq!(
            message(&"x".repeat(300)),
            "the event name is 300 bytes long; FlowFlex takes at most 256: use a shorter name"
        );
    }

    #[test]
    fn a_long_name_is_cut_in_the_message() {
        let name = format!("{}é", "x".repeat(1000));
        let message = check_event_name(&name).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!("the event name \"{}…\" contains", "x".repeat(80))),
            "{message}"
        );
    }
}
