//! Typed events: the public traits behind `#[derive(FlowFlexEvent)]`. The
//! walk the derive generates lives in `visit.rs`.

use crate::attachment::Attachment;
use crate::client::Client;
use crate::error::Result;
use crate::send::SendEvent;
use crate::visit::{Visit, Visitor};

/// A struct that derives `FlowFlexEvent`: an event payload, or a part of one.
///
/// Derive it beside serde's `Serialize`; the derive follows serde's
/// attributes (`rename`, `rename_all`, `skip*`, `flatten`) to know the path
/// of every [`Attachment`] in the JSON, as a flow reads it
/// (`{{trigger.invoiceFile}}`, `{{trigger.gallery[0]}}`).
///
/// ```
/// use flowflex::{Attachment, FlowFlexEvent};
/// use serde::Serialize;
///
/// #[derive(Serialize, FlowFlexEvent)]
/// struct Order {
///     receipt: Attachment,
/// }
///
/// #[derive(Serialize, FlowFlexEvent)]
/// #[flowflex(event = "order.shipped")]
/// #[serde(rename_all = "camelCase")]
/// struct OrderShipped {
///     #[flowflex(mime = "application/pdf", max_size = "10 MB")]
///     invoice_file: Attachment,
///     #[flowflex(mime("image/jpeg", "image/png"))]
///     gallery: Vec<Attachment>,
///     order: Order,
///     note: String,
/// }
///
/// assert_eq!(OrderShipped::EVENT, "order.shipped");
/// assert_eq!(
///     OrderShipped::attachment_paths(),
///     ["invoiceFile", "gallery[]", "order.receipt"]
/// );
/// ```
///
/// A struct with `#[flowflex(event = "..")]` also gets, without imports,
/// `EVENT`, `send(&client)` (the same builder as [`Client::send_event`], with
/// each field's `mime` and `max_size` checked before any request),
/// `attachment_paths()` and `preview()`; it implements [`NamedEvent`].
/// Without an event name the struct is a part, to nest in events. See
/// `docs/derive.md` for every attribute.
///
/// A field's attachments are seen through `Option`, `Vec`, `VecDeque`,
/// arrays, slices, tuples (up to 6), `Box`, `Rc`, `Arc`, references, maps
/// with string or integer keys, and other types deriving `FlowFlexEvent`.
/// A type that does not derive it (an enum, a type from another crate) is sent
/// as serde writes it, and any attachment inside is still uploaded; only
/// its paths are missing from [`attachment_paths`](Self::attachment_paths)
/// and [`attachments`](Self::attachments), and field limits do not reach it.
pub trait FlowFlexEvent: serde::Serialize + Visit {
    /// The payload paths of this type's attachments: `[]` stands for any
    /// array index, `*` for any map key, and `**` (in a recursive type) for
    /// the paths of the enclosing type again, e.g. `["invoiceFile",
    /// "gallery[]", "photos.*", "order.receipt"]`.
    ///
    /// Optional fields are listed: a template may match nothing in a value.
    #[must_use]
    fn attachment_paths() -> Vec<String> {
        crate::visit::attachment_paths::<Self>()
    }

    /// The attachments of this value with their payload paths (`gallery[2]`,
    /// `photos.front`), in field order: the keys a send reports in
    /// [`SendEventResult::uploaded_assets`](crate::SendEventResult::uploaded_assets).
    #[must_use]
    fn attachments(&self) -> Vec<(String, &Attachment)> {
        let mut visitor = Visitor::default();
        self.__flowflex_visit(&mut visitor);
        let (slots, found, _) = visitor.finish();
        slots
            .iter()
            .map(|slot| (slot.path.to_owned(), found[slot.index]))
            .collect()
    }

    /// The payload as JSON, each attachment shown as the placeholder
    /// `{"$attachment": {"filename", "mime", "size"}}`, as
    /// [`preview`](crate::preview): for snapshot tests, no network.
    ///
    /// # Errors
    ///
    /// [`Error::Payload`](crate::Error::Payload) if the value does not
    /// serialize to JSON.
    fn preview(&self) -> Result<serde_json::Value> {
        crate::payload::preview(self)
    }
}

/// A [`FlowFlexEvent`] with an event name (`#[flowflex(event = "..")]`): it
/// can be sent on its own. For code generic over events; a derived struct
/// also has `EVENT` and `send` as inherent items, usable without imports.
///
/// ```no_run
/// use flowflex::{Client, NamedEvent};
///
/// async fn send_all<E: NamedEvent>(client: &Client, events: &[E]) -> flowflex::Result<()> {
///     for event in events {
///         event.send(client).await?;
///     }
///     Ok(())
/// }
/// ```
pub trait NamedEvent: FlowFlexEvent {
    /// The event name, e.g. `"order.shipped"`.
    const EVENT: &'static str;

    /// Sends the event: as [`Client::send_event`]`(Self::EVENT, self)`, with
    /// each field's `mime` and `max_size` checked before any request.
    fn send(&self, client: &Client) -> SendEvent {
        send(client, Self::EVENT, self)
    }
}

/// Used by the derive's `send`: the event serialized once, each attachment
/// with its path and field rules from the derive's walk.
#[doc(hidden)]
pub fn send<T: FlowFlexEvent + ?Sized>(
    client: &Client,
    event: &'static str,
    payload: &T,
) -> SendEvent {
    client.send_encoded(event, crate::encode::Encoded::from_event(payload))
}
