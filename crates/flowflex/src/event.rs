//! Typed events: the `FlowFlexEvent` trait behind `#[derive(FlowFlexEvent)]`.
