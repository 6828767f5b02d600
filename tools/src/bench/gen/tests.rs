use super::*;

#[test]
fn model_follows_the_recurrence() {
    // Depth 0 is the sum of the three globals read.
    let n = 10;
    assert_eq!(
        expected(n, 2, 0),
        initial(2) + initial((7 * 2 + 3) % n) + 11
    );
    // Depth 1 adds three depth-0 calls and the external call.
    let s = expected(n, 0, 0);
    let want = expected(n, 1, 0) + expected(n, 5, 0) + ext_fn(s) + expected(n, 7, 0) + s;
    assert_eq!(expected(n, 0, 1), want);
}

#[test]
fn split_modules_declare_what_they_use_once() {
    let spec = Spec {
        split: Split::Linked,
        ..Spec::single(4)
    };
    let modules = spec.modules();
    assert_eq!(modules.len(), 4);
    for (i, (_, ir)) in modules.iter().enumerate() {
        assert_eq!(ir.matches(&format!("define i64 @f{i}(")).count(), 1, "{ir}");
        assert!(!ir.contains(&format!("declare i64 @f{i}(")), "{ir}");
        assert_eq!(ir.matches(&format!("@tbl{i} = global")).count(), 1, "{ir}");
    }
}

#[test]
fn sections_name_one_section_per_function_and_global() {
    let spec = Spec {
        sections: true,
        ..Spec::single(3)
    };
    let (_, ir) = &spec.modules()[0];
    for i in 0..3 {
        assert!(ir.contains(&format!("section \".text.f{i}\"")));
        assert!(ir.contains(&format!("section \".data.g{i}\"")));
        assert!(ir.contains(&format!("section \".bss.w{i}\"")));
    }
}

#[test]
fn hot_loop_model_matches_a_hand_count() {
    // acc: 1 -> 1*3+5 + (0^7) = 15 -> 15*3+5 + (1^7) = 56.
    assert_eq!(hot_loop_expected(2), 56);
    assert_eq!(hot_loop_expected(0), 1);
}
