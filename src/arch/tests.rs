use super::{aarch64, riscv64, x86_64, PropsCache, RelocKind};

fn every_kind() -> Vec<RelocKind> {
    let x86 = x86_64::Reloc::ALL.into_iter().map(RelocKind::X86_64);
    let a64 = aarch64::Reloc::ALL.into_iter().map(RelocKind::Aarch64);
    let rv = riscv64::Reloc::ALL.into_iter().map(RelocKind::Riscv64);
    x86.chain(a64).chain(rv).collect()
}

#[test]
fn every_kind_of_every_arch_has_its_own_index_in_range() {
    let kinds = every_kind();
    let mut indices: Vec<usize> = kinds.iter().map(|k| k.index()).collect();
    assert!(indices.iter().all(|&i| i < RelocKind::INDEX_COUNT));
    indices.sort_unstable();
    indices.dedup();
    assert_eq!(indices.len(), kinds.len(), "two kinds share an index");
}

#[test]
fn the_props_cache_answers_what_each_kind_says_asked_in_any_order() {
    let mut cache = PropsCache::default();
    let kinds = every_kind();
    for kind in kinds.iter().chain(kinds.iter().rev()) {
        assert_eq!(cache.get(*kind), kind.props(), "{kind}");
    }
}
