use super::*;
use rivet::memory::SegmentRequest;

fn request(sizes: &[(SegmentClass, u64, u64)]) -> ModuleLayout {
    let mut layout = ModuleLayout::default();
    for &(class, size, align) in sizes {
        *layout.get_mut(class) = SegmentRequest { size, align };
    }
    layout
}

#[test]
fn first_fit_steps_over_taken_ranges() {
    // Room before the taken page is used; a block that does not fit
    // there goes after it, `separation` bytes on.
    assert_eq!(
        first_fit(&[(0x3000, 0x4000)], 0x1000, 0x1000, 0x1000, 0),
        Some(0x1000)
    );
    assert_eq!(
        first_fit(&[(0x2000, 0x3000)], 0x1000, 0x2000, 0x1000, 0),
        Some(0x3000)
    );
    assert_eq!(
        first_fit(&[(0x2000, 0x3000)], 0x1000, 0x1000, 0x1000, 0x10),
        Some(0x4000)
    );
    assert_eq!(first_fit(&[], u64::MAX - 0x10, 0x1000, 0x1000, 0), None);
}

#[test]
fn blocks_keep_members_at_their_alignment() {
    use SegmentClass::{Stubs, Text};
    let req = request(&[(Text, 0x13, 16), (Stubs, 0x10, 8)]);
    let made = block(0, &req, &[Text, Stubs], 0x1000, false).unwrap();
    assert_eq!(made.members, vec![(Text, 0, 0x13), (Stubs, 0x18, 0x10)]);
    assert_eq!(made.size, 0x28);
    assert_eq!(
        block(0, &ModuleLayout::default(), &[Text], 0x1000, false),
        None
    );
    assert_eq!(
        block(0, &ModuleLayout::default(), &[Text], 0x1000, true).map(|b| b.size),
        Some(1)
    );
}

#[test]
fn prefixes_choose_layouts() {
    assert_eq!(Layout::of_prefix("jitlink-check"), Some(Layout::Jitlink));
    assert_eq!(Layout::of_prefix("rtdyld-check"), Some(Layout::Rtdyld));
    assert_eq!(Layout::of_prefix("my-check"), None);
}
