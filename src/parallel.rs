//! Mapping a slice on every core (at most 8 threads), keeping the order of the items.
//! Used where independent work dominates: parsing in `World::load`, fact rows per
//! case and signal, evaluation per definition.

/// `items.iter().map(f).collect()`, on scoped threads for slices worth it (many
/// cheap items: events).
pub fn ordered_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_in_chunks(items, 256, f)
}

/// As [`ordered_map`] for a few costly items (indicator definitions): every item is
/// worth a thread's share, however short the slice.
pub fn ordered_map_each<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_in_chunks(items, 2, f)
}

fn map_in_chunks<T: Sync, R: Send>(items: &[T], min_items: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from).clamp(1, 8);
    if threads <= 1 || items.len() < min_items {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> =
            items.chunks(chunk).map(|c| s.spawn(move || c.iter().map(f).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|h| h.join().expect("a parallel worker panicked")).collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order() {
        let items: Vec<u32> = (0..10_000).collect();
        assert_eq!(super::ordered_map(&items, |x| x * 2), items.iter().map(|x| x * 2).collect::<Vec<_>>());
    }
}
