fn main() {
    // A text file renamed to .png.
    let _ = flowflex::include_attachment!("fixtures/not-really.png");
    // A PNG renamed to .pdf.
    let _ = flowflex::include_attachment!("fixtures/logo.pdf");
    // An empty file: only a text file may be empty.
    let _ = flowflex::include_attachment!("fixtures/empty.pdf");
}
