//! Synthetic graphs for benchmarks: kinds and degrees like the curated graph (a few hubs, many
//! leaves), searchable made-up names, a citation on every relation. Deterministic for a seed.

use crate::domain::{Citation, Entity, EntityKind, Relation, RelationKind, Slug};

/// splitmix64: tiny, fast, and the same sequence on every platform and version.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ne", "ru", "ta", "vi", "so", "de", "an", "el", "or", "ba", "zu", "qui", "pe", "ra", "no", "li",
    "ga",
];

fn word(rng: &mut Rng, syllables: usize) -> String {
    let mut w: String = (0..syllables).map(|_| SYLLABLES[rng.below(SYLLABLES.len())]).collect();
    if let Some(first) = w.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    w
}

/// The kind of the `i`-th entity: shares like the curated graph (offices and places dominate).
fn kind_of(i: usize, n: usize) -> EntityKind {
    // The first entities are the hubs (organizations), and one in a hundred is a document.
    if i < (n / 1000).max(1) {
        return EntityKind::Organization;
    }
    match i % 100 {
        0 => EntityKind::Document,
        1..=38 => EntityKind::Office,
        39..=72 => EntityKind::Place,
        73..=78 => EntityKind::Organization,
        79..=85 => EntityKind::Person,
        86..=90 => EntityKind::Policy,
        91..=94 => EntityKind::Pillar,
        _ => EntityKind::Event,
    }
}

/// Generates `entities` entities and `relations` relations. Relation targets follow a
/// power law (`⌊n·u³⌋`), so low-numbered entities become hubs as in the real graph.
pub fn generate(entities: usize, relations: usize, seed: u64) -> (Vec<Entity>, Vec<Relation>) {
    let mut rng = Rng::new(seed);
    let n = entities.max(2);
    let mut es = Vec::with_capacity(n);
    for i in 0..n {
        let kind = kind_of(i, n);
        let name = format!("{} {}", word(&mut rng, 2), word(&mut rng, 3));
        let slug = format!("{}-{i}", name.to_ascii_lowercase().replace(' ', "-"));
        es.push(Entity {
            id: slug.clone(),
            slug: Slug::parse(&slug).expect("generated slugs are valid"),
            kind,
            subtype: None,
            aliases: vec![name.to_ascii_uppercase()],
            name,
            summary: None,
            date: None,
            extra: crate::domain::EntityExtra {
                end_date: None,
                url: None,
                file: (kind == EntityKind::Document).then(|| format!("synthetic-{i}.txt")),
                quantities: Vec::new(),
                sources: Default::default(),
            }
            .into(),
            version: 1,
        });
    }
    let documents: Vec<usize> = (0..n).filter(|&i| es[i].kind == EntityKind::Document).collect();
    let documents = if documents.is_empty() { vec![0] } else { documents };
    let kinds = [
        RelationKind::OfficeOf,
        RelationKind::LocatedIn,
        RelationKind::PartOf,
        RelationKind::HoldsRole,
        RelationKind::Supports,
        RelationKind::Funds,
        RelationKind::Concerns,
        RelationKind::PartnersWith,
    ];
    let mut rs = Vec::with_capacity(relations);
    for j in 0..relations {
        let from = rng.below(n);
        let u = rng.unit();
        let mut to = ((n as f64) * u * u * u) as usize % n;
        if to == from {
            to = (to + 1) % n;
        }
        let kind = kinds[rng.below(kinds.len())];
        let doc = documents[rng.below(documents.len())];
        rs.push(Relation {
            id: format!("r{j}"),
            kind,
            from: es[from].id.clone(),
            to: es[to].id.clone(),
            title: None,
            order: None,
            valid_from: None,
            valid_until: None,
            quantities: Vec::new(),
            citations: vec![Citation {
                document: es[doc].id.clone(),
                quote: Some(format!("{} {} {}.", es[from].name, kind.as_str().replace('_', " "), es[to].name)),
            }],
            version: 1,
        });
    }
    (es, rs)
}

/// Gives generated entities what sorted and filtered lists read: a date on most (a year, a
/// month or a day, one in five undated), a sub-type on some, a summary on a third. Kept apart
/// from [`generate`] so that the graphs the other benchmarks measure stay as they were.
pub fn decorate(entities: &mut [Entity], seed: u64) {
    let mut rng = Rng::new(seed ^ 0xDA7E);
    const TYPES: &[&str] = &["country office", "executive order", "city", "project"];
    for e in entities.iter_mut() {
        let year = 1950 + rng.below(75);
        let date = match rng.below(5) {
            0 => None,
            1 => Some(format!("{year}")),
            2 => Some(format!("{year}-{:02}", 1 + rng.below(12))),
            _ => Some(format!("{year}-{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28))),
        };
        e.date = date.map(|d| crate::domain::PartialDate::parse(&d).expect("generated dates are valid"));
        e.subtype = (rng.below(3) == 0).then(|| TYPES[rng.below(TYPES.len())].to_string());
        e.summary = (rng.below(3) == 0)
            .then(|| format!("{} works on {} with {}.", e.name, word(&mut rng, 2), word(&mut rng, 3)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_shaped_like_the_real_graph() {
        let (a, ra) = generate(2_000, 10_000, 7);
        let (b, rb) = generate(2_000, 10_000, 7);
        assert_eq!(a, b);
        assert_eq!(ra, rb);
        let g = crate::graph::GraphIndex::build(a, ra, 1).unwrap();
        let r = g.rankings();
        let mut degrees: Vec<usize> = r.degree.values().copied().collect();
        degrees.sort_unstable_by(|x, y| y.cmp(x));
        // A few hubs, many leaves.
        assert!(degrees[0] > 20 * (10_000 * 2 / 2_000), "top degree {}", degrees[0]);
        assert!(degrees[degrees.len() / 2] < 10);
    }
}
