//! Object files → one format-neutral model of sections, symbols and relocations.
