use flowflex::FlowFlexEvent;

#[derive(FlowFlexEvent)]
union Bits {
    a: u32,
    b: f32,
}

fn main() {}
