//! Linker-defined section bounds: ELF's `__start_NAME` / `__stop_NAME`
//! (for sections whose names are C identifiers, as GNU ld, lld and JITLink
//! define them) and Mach-O's `section$start$SEG$SECT` /
//! `section$end$SEG$SECT`. A reference the link leaves undefined resolves
//! to the first / one-past-the-last byte of the sections of that name in
//! the referring module. Programs walk registries with them: arrays placed
//! with `__attribute__((section("my_registry")))`, visited from
//! `__start_my_registry` to `__stop_my_registry`.
//!
//! Several input sections of one name are laid out next to each other
//! (see [`placement_order`]), so the bounds enclose them all and nothing
//! else but alignment padding.

use crate::load::{Format, ObjectFile, Section};

/// Which end of the sections a bound symbol names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BoundEnd {
    Start,
    End,
}

/// The sections a bound symbol spans: (segment, section name).
type SectionName<'n> = (&'n str, &'n str);

/// What a bound symbol's name asks for, if it is one for `format`.
fn parse_bound(format: Format, name: &str) -> Option<(BoundEnd, SectionName<'_>)> {
    match format {
        Format::Elf => {
            let (end, section) = if let Some(s) = name.strip_prefix("__start_") {
                (BoundEnd::Start, s)
            } else {
                (BoundEnd::End, name.strip_prefix("__stop_")?)
            };
            is_c_identifier(section).then_some((end, ("", section)))
        }
        Format::MachO => {
            let (end, rest) = if let Some(s) = name.strip_prefix("section$start$") {
                (BoundEnd::Start, s)
            } else {
                (BoundEnd::End, name.strip_prefix("section$end$")?)
            };
            let (segment, section) = rest.split_once('$')?;
            Some((end, (segment, section)))
        }
        Format::Coff => None,
    }
}

/// Whether `name` is a C identifier: only those sections get bounds, as
/// a C program can only name those.
fn is_c_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Whether `section` is one a bound symbol can name: loaded in the
/// module's memory (thread-local sections live in each thread's block).
fn is_boundable(format: Format, section: &Section<'_>) -> bool {
    section.kind.is_loaded()
        && !section.kind.is_tls()
        && match format {
            Format::Elf => is_c_identifier(section.name),
            Format::MachO => true,
            Format::Coff => false,
        }
}

/// The loaded sections of `object` with the given name.
pub(crate) fn sections_named<'o>(
    object: &'o ObjectFile<'_>,
    (segment, name): SectionName<'_>,
) -> impl Iterator<Item = usize> + 'o {
    let (segment, name) = (segment.to_owned(), name.to_owned());
    object
        .sections
        .iter()
        .enumerate()
        .filter_map(move |(i, s)| {
            (is_boundable(object.format, s) && s.segment == segment && s.name == name).then_some(i)
        })
}

/// The bound `name` stands for in `object`: which end, and the first
/// section of that name (its siblings are found by name). `None` when the
/// name is no bound symbol or the module has no such section, in which
/// case the name resolves as any other.
pub(crate) fn bound_of(object: &ObjectFile<'_>, name: &str) -> Option<(BoundEnd, u32)> {
    let (end, section) = parse_bound(object.format, name)?;
    let first = sections_named(object, section).next()?;
    Some((end, first as u32))
}

/// The order to place `object`'s sections in: the object's own, except
/// that sections sharing a name a bound symbol can name follow the first
/// of them, so that they are contiguous in their segment.
pub(crate) fn placement_order(object: &ObjectFile<'_>) -> Vec<usize> {
    let sections = &object.sections;
    let boundable = |s: &Section<'_>| is_boundable(object.format, s);
    let mut groups: std::collections::HashMap<SectionName<'_>, Vec<usize>> = Default::default();
    for (i, section) in sections.iter().enumerate().filter(|(_, s)| boundable(s)) {
        groups
            .entry((section.segment, section.name))
            .or_default()
            .push(i);
    }
    // The common case (no name repeats) keeps the object's order.
    if groups.values().all(|g| g.len() == 1) {
        return (0..sections.len()).collect();
    }
    let mut order = Vec::with_capacity(sections.len());
    for (i, section) in sections.iter().enumerate() {
        if !boundable(section) {
            order.push(i);
            continue;
        }
        match groups.get(&(section.segment, section.name)) {
            // The first of its name brings the others along.
            Some(group) if group.first() == Some(&i) => order.extend_from_slice(group),
            Some(_) => {}
            None => order.push(i),
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_per_format() {
        assert_eq!(
            parse_bound(Format::Elf, "__start_my_registry"),
            Some((BoundEnd::Start, ("", "my_registry")))
        );
        assert_eq!(
            parse_bound(Format::Elf, "__stop_x1"),
            Some((BoundEnd::End, ("", "x1")))
        );
        // `.data` is no C identifier: GNU ld defines no `__start_.data`.
        assert_eq!(parse_bound(Format::Elf, "__start_.data"), None);
        assert_eq!(parse_bound(Format::Elf, "__start_"), None);
        assert_eq!(parse_bound(Format::Elf, "__start_1x"), None);
        assert_eq!(
            parse_bound(Format::MachO, "section$start$__DATA$__reg"),
            Some((BoundEnd::Start, ("__DATA", "__reg")))
        );
        assert_eq!(
            parse_bound(Format::MachO, "section$end$__DATA$__reg"),
            Some((BoundEnd::End, ("__DATA", "__reg")))
        );
        assert_eq!(parse_bound(Format::MachO, "section$end$__DATA"), None);
        assert_eq!(parse_bound(Format::MachO, "__start_reg"), None);
        assert_eq!(parse_bound(Format::Coff, "__start_reg"), None);
    }
}
