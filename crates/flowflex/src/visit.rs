//! The walk behind `#[derive(FlowFlexEvent)]`: the derive implements the
//! hidden [`Visit`] trait, which walks a value along the same paths serde
//! writes, yielding each attachment with its wire path and the limits of the
//! field it sits in, and lists the path templates of the type. Containers
//! (`Option`, `Vec`, arrays, maps, `Box`, ...) implement it here. Not public
//! API: the derive's generated code calls it through `__private`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::attachment::Attachment;
use crate::slots::{Keys, Slots};

pub use crate::slots::FieldRules;

/// Used by the derive's `attachment_paths`, which needs no `Serialize`.
#[doc(hidden)]
#[must_use]
pub fn attachment_paths<T: Visit + ?Sized>() -> Vec<String> {
    let mut templates = Templates::default();
    T::__flowflex_templates(&mut templates);
    templates.out
}

/// Walks a value along serde's paths. Implemented by the derive and, here,
/// for attachments and containers. Not public API.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not derive `FlowFlexEvent`, so the derive cannot see attachments in it",
    label = "used by a `#[derive(FlowFlexEvent)]` struct that is generic over it",
    note = "derive `FlowFlexEvent` on `{Self}`, or give the generic struct `#[flowflex(bound = \"..\")]` to choose its bounds"
)]
pub trait Visit {
    /// Whether no value of this type can hold an attachment (`String`,
    /// numbers, `Vec<String>`): its field is skipped without entering it.
    const HOLDS_NOTHING: bool = false;
    /// Reports each attachment in `self` to `visitor`, at its path.
    fn __flowflex_visit<'a>(&'a self, visitor: &mut Visitor<'a>);
    /// Reports the path templates of the type to `templates`.
    fn __flowflex_templates(templates: &mut Templates);
}

/// The state of a walk over a value: the places found so far and the
/// attachments they name, each once. Not public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct Visitor<'a> {
    slots: Slots,
    /// The limits of the fields being walked.
    rules: Vec<FieldRules>,
    /// Each attachment once, in the order first met.
    found: SmallVec<[&'a Attachment; 8]>,
    /// Their keys, in the same order.
    keys: Keys,
    /// Whether two places may have one path (see [`may_merge`](Self::may_merge)).
    merging: bool,
}

/// Where to return to when leaving a field. Not public API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    path: usize,
    rules: usize,
}

/// Appends an object key to a path template.
fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

fn push_index(path: &mut String, index: usize) {
    let _ = write!(path, "[{index}]");
}

impl Default for Visitor<'_> {
    fn default() -> Self {
        Visitor {
            slots: Slots::for_event(),
            rules: Vec::new(),
            found: SmallVec::new(),
            keys: Keys::default(),
            merging: false,
        }
    }
}

impl<'a> Visitor<'a> {
    /// What the walk found: the places, the attachments their indexes
    /// name, and whether two places may share a path.
    pub(crate) fn finish(self) -> (Slots, SmallVec<[&'a Attachment; 8]>, bool) {
        (self.slots, self.found, self.merging)
    }

    /// Says that this walk may give two places one path: a field written
    /// in its parent's place (flattened), two fields under one name, a
    /// name holding `.` or `[`, a map's keys. The derive calls it for such
    /// types; without it the paths are distinct by construction and the
    /// encode does not compare them.
    #[inline]
    pub fn may_merge(&mut self) {
        self.merging = true;
    }

    #[inline]
    fn mark(&self) -> Mark {
        Mark {
            path: self.slots.mark(),
            rules: self.rules.len(),
        }
    }

    #[inline]
    fn push_rules(&mut self, rules: Option<FieldRules>) {
        if let Some(rules) = rules {
            self.rules.push(rules);
        }
    }

    /// Enters an object key (a field, a map entry).
    #[inline]
    pub fn enter_key(&mut self, key: &str, rules: Option<FieldRules>) -> Mark {
        let mark = self.mark();
        self.slots.enter_key(key);
        self.push_rules(rules);
        mark
    }

    /// Enters an array element.
    #[inline]
    pub fn enter_index(&mut self, index: usize, rules: Option<FieldRules>) -> Mark {
        let mark = self.mark();
        self.slots.enter_index(index);
        self.push_rules(rules);
        mark
    }

    /// Enters a field written in its parent's place (flattened, newtype).
    #[inline]
    pub fn enter_rules(&mut self, rules: Option<FieldRules>) -> Mark {
        let mark = self.mark();
        self.push_rules(rules);
        mark
    }

    /// Leaves what the matching `enter_*` entered.
    #[inline]
    pub fn leave(&mut self, mark: Mark) {
        self.slots.leave(mark.path);
        self.rules.truncate(mark.rules);
    }

    /// Reports an attachment at the current path.
    #[inline]
    pub fn attachment(&mut self, attachment: &'a Attachment) {
        let index = self.index(attachment);
        self.slots.record(index, &self.rules);
    }

    /// The attachment's index in `found`, added if new.
    #[inline]
    fn index(&mut self, attachment: &'a Attachment) -> usize {
        let index = self.keys.insert(attachment.key());
        if index == self.found.len() {
            self.found.push(attachment);
        }
        index
    }
}

/// The state of a listing of path templates. Not public API.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct Templates {
    prefix: String,
    out: Vec<String>,
    /// The derived types being listed, to stop at recursion.
    types: Vec<&'static str>,
}

impl Templates {
    /// Enters an object key.
    pub fn enter_key(&mut self, key: &str) -> usize {
        let mark = self.prefix.len();
        push_key(&mut self.prefix, key);
        mark
    }

    /// Enters one tuple-struct element.
    pub fn enter_index(&mut self, index: usize) -> usize {
        let mark = self.prefix.len();
        push_index(&mut self.prefix, index);
        mark
    }

    /// Enters any element of a sequence: `[]`.
    pub fn enter_items(&mut self) -> usize {
        let mark = self.prefix.len();
        self.prefix.push_str("[]");
        mark
    }

    /// Enters any entry of a map: `*`.
    pub fn enter_entries(&mut self) -> usize {
        self.enter_key("*")
    }

    /// Leaves what the matching `enter_*` entered.
    pub fn leave(&mut self, mark: usize) {
        self.prefix.truncate(mark);
    }

    /// Reports an attachment at the current template.
    pub fn attachment(&mut self) {
        self.out.push(self.prefix.clone());
    }

    /// Enters a derived type; `false` (after reporting `<prefix>.**`) if it
    /// is already being listed, so a recursive type lists finitely.
    pub fn enter_type(&mut self, name: &'static str) -> bool {
        if self.types.contains(&name) {
            let mut template = self.prefix.clone();
            push_key(&mut template, "**");
            self.out.push(template);
            return false;
        }
        self.types.push(name);
        true
    }

    /// Leaves the type entered last.
    pub fn leave_type(&mut self) {
        self.types.pop();
    }
}

// ------------------------------------------------------------------ probes
//
// Autoref specialization: the derive calls
// `(&Probe::<FieldType>::new()).__flowflex_probe_visit(..)`. Method lookup
// tries `ViaVisit` (receiver `&Probe<T>`, needs `T: Visit`) before
// `ViaNothing` (receiver `&&Probe<T>`, any `T`), so a field of a type that
// holds no attachments (`String`, `chrono::DateTime`, a foreign enum) needs
// no impl and no attribute.

/// Selects how a field is walked. Not public API.
#[doc(hidden)]
pub struct Probe<T: ?Sized>(PhantomData<fn() -> PhantomData<T>>);

impl<T: ?Sized> Probe<T> {
    #[must_use]
    pub const fn new() -> Self {
        Probe(PhantomData)
    }
}

impl<T: ?Sized> Default for Probe<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: ?Sized> std::fmt::Debug for Probe<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Probe")
    }
}

/// The walk of a field whose type implements [`Visit`]. Not public API.
#[doc(hidden)]
pub trait ViaVisit {
    type Value: ?Sized;
    fn __flowflex_probe_holds_nothing(&self) -> bool;
    fn __flowflex_probe_visit<'a>(&self, value: &'a Self::Value, visitor: &mut Visitor<'a>);
    fn __flowflex_probe_templates(&self, templates: &mut Templates);
}

impl<T: Visit + ?Sized> ViaVisit for Probe<T> {
    type Value = T;

    #[inline]
    fn __flowflex_probe_holds_nothing(&self) -> bool {
        T::HOLDS_NOTHING
    }

    fn __flowflex_probe_visit<'a>(&self, value: &'a T, visitor: &mut Visitor<'a>) {
        value.__flowflex_visit(visitor);
    }

    fn __flowflex_probe_templates(&self, templates: &mut Templates) {
        T::__flowflex_templates(templates);
    }
}

/// The walk of a field of any other type: nothing to see. Not public API.
#[doc(hidden)]
pub trait ViaNothing {
    type Value: ?Sized;
    fn __flowflex_probe_holds_nothing(&self) -> bool;
    fn __flowflex_probe_visit<'a>(&self, value: &'a Self::Value, visitor: &mut Visitor<'a>);
    fn __flowflex_probe_templates(&self, templates: &mut Templates);
}

impl<T: ?Sized> ViaNothing for &Probe<T> {
    type Value = T;

    #[inline]
    fn __flowflex_probe_holds_nothing(&self) -> bool {
        true
    }

    fn __flowflex_probe_visit<'a>(&self, _: &'a T, _: &mut Visitor<'a>) {}

    fn __flowflex_probe_templates(&self, _: &mut Templates) {}
}

// ------------------------------------------------------------------ impls

impl Visit for Attachment {
    fn __flowflex_visit<'a>(&'a self, visitor: &mut Visitor<'a>) {
        visitor.attachment(self);
    }

    fn __flowflex_templates(templates: &mut Templates) {
        templates.attachment();
    }
}

/// Types written in the place of the value they hold.
macro_rules! transparent {
    ($($ty:ty),+) => {$(
        impl<T: Visit + ?Sized> Visit for $ty {
            const HOLDS_NOTHING: bool = T::HOLDS_NOTHING;

            fn __flowflex_visit<'a>(&'a self, visitor: &mut Visitor<'a>) {
                T::__flowflex_visit(self, visitor);
            }

            fn __flowflex_templates(templates: &mut Templates) {
                T::__flowflex_templates(templates);
            }
        }
    )+};
}

transparent!(&T, &mut T, Box<T>, Rc<T>, Arc<T>);

impl<T: Visit> Visit for Option<T> {
    const HOLDS_NOTHING: bool = T::HOLDS_NOTHING;

    fn __flowflex_visit<'a>(&'a self, visitor: &mut Visitor<'a>) {
        if let Some(value) = self {
            value.__flowflex_visit(visitor);
        }
    }

    fn __flowflex_templates(templates: &mut Templates) {
        T::__flowflex_templates(templates);
    }
}

fn visit_items<'a, T: Visit + 'a>(
    items: impl IntoIterator<Item = &'a T>,
    visitor: &mut Visitor<'a>,
) {
    if T::HOLDS_NOTHING {
        return;
    }
    for (index, item) in items.into_iter().enumerate() {
        let mark = visitor.enter_index(index, None);
        item.__flowflex_visit(visitor);
        visitor.leave(mark);
    }
}

fn item_templates<T: Visit>(templates: &mut Templates) {
    let mark = templates.enter_items();
    T::__flowflex_templates(templates);
    templates.leave(mark);
}

/// Types serde writes as JSON arrays.
macro_rules! sequence {
    ($([$($generics:tt)*] $ty:ty),+) => {$(
        impl<$($generics)*> Visit for $ty {
            const HOLDS_NOTHING: bool = T::HOLDS_NOTHING;

            fn __flowflex_visit<'a>(&'a self, visitor: &mut Visitor<'a>) {
                visit_items(self, visitor);
            }

            fn __flowflex_templates(templates: &mut Templates) {
                item_templates::<T>(templates);
            }
        }
    )+};
}

sequence!(
    [T: Visit] Vec<T>,
    [T: Visit] VecDeque<T>,
    [T: Visit] [T],
    [T: Visit, const N: usize] [T; N]
);

/// Tuples, which serde writes as JSON arrays.
macro_rules! tuples {
    ($(($($name:ident $index:tt),+))+) => {$(
        impl<$($name: Visit),+> Visit for ($($name,)+) {
            const HOLDS_NOTHING: bool = $($name::HOLDS_NOTHING)&&+;

            fn __flowflex_visit<'a>(&'a self, visitor: &mut Visitor<'a>) {
                $(
                    let mark = visitor.enter_index($index, None);
                    self.$index.__flowflex_visit(visitor);
                    visitor.leave(mark);
                )+
            }

            fn __flowflex_templates(templates: &mut Templates) {
                $(
                    let mark = templates.enter_index($index);
                    $name::__flowflex_templates(templates);
                    templates.leave(mark);
                )+
            }
        }
    )+};
}

tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
}

/// Map keys as serde_json writes them: strings as they are, numbers and
/// characters as their text. Not public API.
#[doc(hidden)]
pub trait MapKey {
    fn __flowflex_key(&self) -> Cow<'_, str>;
}

impl MapKey for String {
    fn __flowflex_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl MapKey for str {
    fn __flowflex_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl MapKey for Cow<'_, str> {
    fn __flowflex_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl MapKey for Box<str> {
    fn __flowflex_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl<K: MapKey + ?Sized> MapKey for &K {
    fn __flowflex_key(&self) -> Cow<'_, str> {
        K::__flowflex_key(self)
    }
}

macro_rules! display_keys {
    ($($ty:ty),+) => {$(
        impl MapKey for $ty {
            fn __flowflex_key(&self) -> Cow<'_, str> {
                Cow::Owned(self.to_string())
            }
        }
    )+};
}

display_keys!(
    char, i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

fn visit_entries<'a, K: MapKey + 'a, V: Visit + 'a>(
    entries: impl IntoIterator<Item = (&'a K, &'a V)>,
    visitor: &mut Visitor<'a>,
) {
    if V::HOLDS_NOTHING {
        return;
    }
    // Keys are data: `"a.b"` and `a` then `b` read the same.
    visitor.may_merge();
    for (key, value) in entries {
        let mark = visitor.enter_key(&key.__flowflex_key(), None);
        value.__flowflex_visit(visitor);
        visitor.leave(mark);
    }
}

fn entry_templates<V: Visit>(templates: &mut Templates) {
    let mark = templates.enter_entries();
    V::__flowflex_templates(templates);
    templates.leave(mark);
}

impl<K: MapKey, V: Visit, S> Visit for HashMap<K, V, S> {
    const HOLDS_NOTHING: bool = V::HOLDS_NOTHING;

    fn __flowflex_visit<'a>(&'a self, visitor: &mut Visitor<'a>) {
        visit_entries(self, visitor);
    }

    fn __flowflex_templates(templates: &mut Templates) {
        entry_templates::<V>(templates);
    }
}

impl<K: MapKey, V: Visit> Visit for BTreeMap<K, V> {
    const HOLDS_NOTHING: bool = V::HOLDS_NOTHING;

    fn __flowflex_visit<'a>(&'a self, visitor: &mut Visitor<'a>) {
        visit_entries(self, visitor);
    }

    fn __flowflex_templates(templates: &mut Templates) {
        entry_templates::<V>(templates);
    }
}

/// Types that hold no attachment, so that a generic struct
/// (`Wrapper<T> { inner: T }`, bounded `T: Visit`) also takes them.
macro_rules! leaves {
    ($([$($generics:tt)*] $ty:ty),+) => {$(
        impl<$($generics)*> Visit for $ty {
            const HOLDS_NOTHING: bool = true;

            fn __flowflex_visit<'a>(&'a self, _: &mut Visitor<'a>) {}

            fn __flowflex_templates(_: &mut Templates) {}
        }
    )+};
}

leaves!(
    [] bool, [] char, [] str, [] String, [] (),
    [] i8, [] i16, [] i32, [] i64, [] i128, [] isize,
    [] u8, [] u16, [] u32, [] u64, [] u128, [] usize,
    [] f32, [] f64,
    [] serde_json::Value,
    [] Cow<'_, str>,
    [T: ?Sized] PhantomData<T>
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slots::tests::rules;

    #[test]
    fn paths_join_like_the_payload_walker() {
        let a = Attachment::from_bytes(&b"x"[..], "a.txt");
        let mut v = Visitor::default();
        let outer = v.enter_key("gallery", Some(rules(5)));
        let item = v.enter_index(2, None);
        v.attachment(&a);
        v.leave(item);
        v.leave(outer);
        let flat = v.enter_rules(Some(rules(7)));
        let key = v.enter_key("photos", None);
        let entry = v.enter_key("front", None);
        v.attachment(&a);
        v.leave(entry);
        v.leave(key);
        v.leave(flat);
        v.attachment(&a);
        let (slots, found, merging) = v.finish();
        assert_eq!(found.len(), 1);
        // Only the derive and maps say a walk may merge paths.
        assert!(!merging);
        let found: Vec<_> = slots
            .iter()
            .map(|f| {
                (
                    f.path,
                    f.rules.iter().map(|r| r.max_size).collect::<Vec<_>>(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("gallery[2]", vec![Some(5)]),
                ("photos.front", vec![Some(7)]),
                ("", vec![]),
            ]
        );
    }

    #[test]
    fn containers() {
        let a = Attachment::from_bytes(&b"x"[..], "a.txt");
        let value: BTreeMap<&str, Vec<Option<Box<Attachment>>>> = [
            ("x", vec![None, Some(Box::new(a.clone()))]),
            ("y", vec![Some(Box::new(a.clone()))]),
        ]
        .into_iter()
        .collect();
        let mut v = Visitor::default();
        value.__flowflex_visit(&mut v);
        let (slots, found, merging) = v.finish();
        // Map keys are data: they may read like nesting.
        assert!(merging);
        let paths: Vec<_> = slots.iter().map(|f| (f.path, f.index)).collect();
        assert_eq!(paths, [("x[1]", 0), ("y[0]", 0)]);
        assert_eq!(found.len(), 1);
        let mut t = Templates::default();
        <BTreeMap<&str, Vec<Option<Box<Attachment>>>>>::__flowflex_templates(&mut t);
        assert_eq!(t.out, ["*[]"]);
        let mut t = Templates::default();
        let mark = t.enter_key("photos");
        <HashMap<u32, [Attachment; 2]>>::__flowflex_templates(&mut t);
        t.leave(mark);
        assert_eq!(t.out, ["photos.*[]"]);
    }

    #[test]
    // The borrow is the point: it is what selects `ViaVisit` or `ViaNothing`.
    #[allow(clippy::needless_borrow)]
    fn probes_fall_back_for_other_types() {
        struct Opaque;
        let opaque = vec![Opaque];
        let some = Some(Attachment::from_bytes(&b"x"[..], "a.txt"));
        let mut v = Visitor::default();
        (&Probe::<Opaque>::new()).__flowflex_probe_visit(&opaque[0], &mut v);
        (&Probe::<Vec<Opaque>>::new()).__flowflex_probe_visit(&opaque, &mut v);
        assert!(v.found.is_empty());
        (&Probe::<Option<Attachment>>::new()).__flowflex_probe_visit(&some, &mut v);
        assert_eq!(v.finish().0.len(), 1);
    }

    #[test]
    fn recursion_is_listed_once() {
        let mut t = Templates::default();
        assert!(t.enter_type("Node"));
        let mark = t.enter_key("next");
        assert!(!t.enter_type("Node"));
        t.leave(mark);
        t.leave_type();
        assert_eq!(t.out, ["next.**"]);
    }
}
