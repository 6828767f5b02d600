use super::*;

#[test]
fn first_fit_aligns_absolute_addresses() {
    let mut list = FreeList::with_range(0, 1000);
    // Base 8: offset 8 is the first at an address aligned to 16.
    assert_eq!(list.take_first_fit(8, 10, 16), Some(8));
    assert_eq!(list.total(), 990);
    assert_eq!(list.ranges().collect::<Vec<_>>(), [(0, 8), (18, 982)]);
    assert_eq!(list.take_first_fit(8, 8, 8), Some(0));
    assert_eq!(list.take_first_fit(8, 983, 1), None);
    assert_eq!(list.take_first_fit(8, 0, 1), None);
    assert_eq!(list.largest(), 982);
}

#[test]
fn ranges_merge_on_both_sides() {
    let mut list = FreeList::with_range(0, 300);
    let a = list.take_first_fit(0, 100, 1).unwrap();
    let b = list.take_first_fit(0, 100, 1).unwrap();
    let c = list.take_first_fit(0, 100, 1).unwrap();
    assert_eq!((a, b, c), (0, 100, 200));
    assert_eq!(list.len(), 0);
    list.give_back(a, 100);
    list.give_back(c, 100);
    assert_eq!(list.len(), 2);
    list.give_back(b, 100);
    assert_eq!(list.ranges().collect::<Vec<_>>(), [(0, 300)]);
    assert_eq!(list.total(), 300);
}

#[test]
fn huge_requests_do_not_overflow() {
    let mut list = FreeList::with_range(16, 64);
    assert_eq!(list.take_first_fit(usize::MAX - 8, 8, 16), None);
    assert_eq!(list.take_first_fit(0, usize::MAX, 1), None);
    assert_eq!(list.total(), 64);
}
