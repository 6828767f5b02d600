use super::*;

fn piece(offset: usize, size: usize) -> Piece {
    Piece {
        key: 0,
        offset,
        size,
    }
}

#[test]
fn first_fit_with_alignment_and_gaps() {
    assert_eq!(fit(&[], 16, 8, 64), Some(0));
    assert_eq!(fit(&[], 64, 8, 64), Some(0));
    assert_eq!(fit(&[], 65, 8, 64), None);
    // A gap of 8 at [8, 16) takes an 8-byte piece but not a 16-aligned one.
    let pieces = [piece(0, 8), piece(16, 16)];
    assert_eq!(fit(&pieces, 8, 8, 64), Some(8));
    assert_eq!(fit(&pieces, 8, 16, 64), Some(32));
    assert_eq!(fit(&pieces, 32, 1, 64), Some(32));
    assert_eq!(fit(&pieces, 33, 1, 64), None);
}

#[test]
fn the_reservation_is_static_and_found_in_the_image() {
    let area = area().expect("static TLS in a test executable");
    assert_eq!(area.tp_offset % ALIGN as i64, 0);
    // The image holds the reservation's fill (nothing written yet at
    // its end, which modules in these tests never reach).
    // SAFETY: the image is BUDGET readable bytes.
    let last = unsafe { *((area.init_image + BUDGET - 1) as *const u8) };
    assert_eq!(last, FILL);
    let theirs = std::thread::spawn(current_tp_offset).join().unwrap();
    assert_eq!(theirs, Some(area.tp_offset));
}

#[test]
fn a_full_budget_is_a_typed_error_until_a_module_gives_its_piece_back() {
    // Keys far from the engine's counter; the only test using pieces.
    let (all, more) = (u64::MAX - 1, u64::MAX - 2);
    let first = reserve(all, BUDGET as u64, 16, "all.o").expect("the whole budget");
    assert_eq!(first, area().unwrap().tp_offset);
    match reserve(more, 8, 8, "more.o") {
        Err(Error::StaticTlsExhausted {
            module,
            needed,
            align,
            free,
            budget,
            ..
        }) => {
            assert_eq!(module, "more.o");
            assert_eq!((needed, align, free), (8, 8, 0));
            assert_eq!(budget, BUDGET as u64);
        }
        other => panic!("expected exhaustion, got {other:?}"),
    }
    assert!(matches!(
        reserve(more, 8, 128, "aligned.o"),
        Err(Error::StaticTlsExhausted { .. })
    ));
    release(all);
    assert_eq!(reserve(more, 8, 8, "more.o").unwrap(), first);
    assert_eq!(piece_of(more), Some((0, 8)));
    release(more);
    assert_eq!(piece_of(more), None);
}
