//! The process's own figures (from `/proc/self`) and small statistics.

/// What `/proc/self` says about this process at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Resident set size, bytes (`VmRSS`).
    pub rss: u64,
    /// Peak resident set size so far, bytes (`VmHWM`).
    pub peak_rss: u64,
    /// Lines of `/proc/self/maps`.
    pub mappings: u64,
    /// Bytes of anonymous mappings that are not `PROT_NONE` (heap
    /// included): memory the process has committed, as opposed to reserved.
    pub committed: u64,
}

/// Reads the figures (zeros where `/proc` cannot be read).
pub fn snapshot() -> Snapshot {
    let mut snap = Snapshot::default();
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status.lines() {
            if let Some(rest) = line.strip_prefix("VmRSS:") {
                snap.rss = kib(rest);
            } else if let Some(rest) = line.strip_prefix("VmHWM:") {
                snap.peak_rss = kib(rest);
            }
        }
    }
    if let Ok(maps) = std::fs::read_to_string("/proc/self/maps") {
        (snap.mappings, snap.committed) = count_maps(&maps);
    }
    snap
}

/// One mapping as a line of `/proc/<pid>/maps` (or a header line of
/// `smaps`) describes it: `start-end perms offset dev inode [path]`.
pub(super) struct MapLine<'a> {
    pub size: u64,
    /// Neither readable, writable nor executable (`---`): reserved only.
    pub inaccessible: bool,
    pub inode: &'a str,
    pub path: &'a str,
}

impl<'a> MapLine<'a> {
    /// The mapping `line` describes; `None` for any other line.
    pub(super) fn parse(line: &'a str) -> Option<MapLine<'a>> {
        let mut fields = line.split_whitespace();
        let (start, end) = fields.next()?.split_once('-')?;
        let start = u64::from_str_radix(start, 16).ok()?;
        let end = u64::from_str_radix(end, 16).ok()?;
        let perms = fields.next()?;
        let (_offset, _device, inode) = (fields.next()?, fields.next()?, fields.next()?);
        Some(MapLine {
            size: end.saturating_sub(start),
            inaccessible: perms.starts_with("---"),
            inode,
            path: fields.next().unwrap_or(""),
        })
    }

    /// Anonymous memory (the heap and named anonymous areas included).
    pub(super) fn is_anonymous(&self) -> bool {
        self.inode == "0"
            && (self.path.is_empty() || self.path == "[heap]" || self.path.starts_with("[anon"))
    }
}

/// (mappings, committed anonymous bytes) of a `/proc/<pid>/maps` text.
fn count_maps(maps: &str) -> (u64, u64) {
    let (mut mappings, mut committed) = (0, 0);
    for line in maps.lines() {
        mappings += 1;
        if let Some(m) = MapLine::parse(line) {
            if m.is_anonymous() && !m.inaccessible {
                committed += m.size;
            }
        }
    }
    (mappings, committed)
}

/// A `/proc` figure in kB (`  123 kB`) as bytes; 0 when unreadable.
pub(super) fn kib(field: &str) -> u64 {
    field
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .map_or(0, |k| k * 1024)
}

/// The median of `values` (the mean of the middle two for an even count); 0 for none.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The median of integer samples.
pub fn median_i64(values: &[i64]) -> i64 {
    let as_f: Vec<f64> = values.iter().map(|&v| v as f64).collect();
    median(&as_f).round() as i64
}

/// The smallest of `values`; 0 for none.
pub fn minimum(values: &[f64]) -> f64 {
    values.iter().copied().reduce(f64::min).unwrap_or(0.0)
}

#[cfg(test)]
mod tests;
