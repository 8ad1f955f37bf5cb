fn main() {
    let _ = flowflex::include_attachment!("fixtures/animation.gif");
    let _ = flowflex::include_attachment!("fixtures/README");
}
