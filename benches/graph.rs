//! In-process benchmarks on synthetic graphs (5 relations per entity on average): loading a
//! store into the index, look-ups, search, a relations page (and the biggest hub's, filtered by
//! `validAt` and sorted by date), a 2-hop neighbourhood, a shortest path (also with `validAt`),
//! a durable mutation commit, and sorted and filtered entity pages and `searchResults` over
//! summaries (on the same graph with dates, sub-types and summaries added).
//!
//! Sizes come from `BENCH_ENTITIES` (comma-separated; default `10000,100000`); the figures in
//! BENCHMARKS.md add `1000000`. `BENCH_ENTITIES=1000 cargo bench` is the quick check.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use policygraph::deadline::Deadline;
use policygraph::domain::{DateWindow, PartialDate};
use policygraph::edit::Edit;
use policygraph::graph::algo::{self, PathRanking, StepFilter};
use policygraph::graph::order::{EntityFilter, OrderField, Position, SearchField};
use policygraph::graph::{Direction, GraphIndex, RelationFilter, RelationSort};
use policygraph::service::Service;
use policygraph::store::sled::SledStore;
use policygraph::store::Store;

fn sizes() -> Vec<usize> {
    std::env::var("BENCH_ENTITIES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

async fn store_with(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let (es, rs) = policygraph::synthetic::generate(n, n * 5, 42);
    for c in es.chunks(20_000) {
        store.import(c, &[]).await.unwrap();
    }
    for c in rs.chunks(20_000) {
        store.import(&[], c).await.unwrap();
    }
    store.flush().await.unwrap();
    dir
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    for n in sizes() {
        let dir = rt.block_on(store_with(n));
        let mut group = c.benchmark_group(format!("{n}_entities"));
        // Flat sampling: one start per sample. Criterion's default (linear) sampling would run
        // 55 starts for 10 samples, a quarter of an hour at 1M entities.
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .measurement_time(Duration::from_secs(if n >= 1_000_000 { 60 } else { 10 }));
        group.bench_function(BenchmarkId::new("load_store_into_index", n), |b| {
            b.iter(|| rt.block_on(Service::open(dir.path())).unwrap());
        });
        group.finish();

        let service = rt.block_on(Service::open(dir.path())).unwrap();
        let guard = rt.block_on(service.read());
        let g: &GraphIndex = &guard;
        let slugs: Vec<String> =
            g.entities(None, None).step_by((n / 1000).max(1)).map(|e| e.slug.to_string()).collect();
        let ids: Vec<String> = slugs.iter().map(|s| g.entity_by_slug(s).unwrap().id.clone()).collect();
        let mut group = c.benchmark_group(format!("{n}_entities"));
        group.sample_size(50);
        let mut i = 0usize;
        group.bench_function("entity_by_slug", |b| {
            b.iter(|| {
                i = (i + 1) % slugs.len();
                g.entity_by_slug(&slugs[i]).unwrap().id.len()
            })
        });
        let names: Vec<String> =
            slugs.iter().map(|s| g.entity_by_slug(s).unwrap().name.split(' ').next().unwrap().to_lowercase()).collect();
        group.bench_function("search_20", |b| {
            b.iter(|| {
                i = (i + 1) % names.len();
                g.search(&names[i], None, 20).len()
            })
        });
        group.bench_function("relations_page_20", |b| {
            b.iter(|| {
                i = (i + 1) % ids.len();
                g.relations_of(&ids[i], Direction::Both, None).into_iter().take(20).count()
            })
        });
        // The entity with the most relations: what `relations(where: { validAt }, orderBy: DATE)`
        // costs at its worst. The synthetic relations are undated, so every one is tested and
        // kept (not strict) and keyed, and the page is selected from all of them.
        let hub = {
            let r = g.rankings();
            r.degree.iter().max_by_key(|(id, d)| (**d, std::cmp::Reverse((*id).clone()))).unwrap().0.clone()
        };
        let at = DateWindow::at(PartialDate::parse("2025-03-01").unwrap(), false);
        let dated = RelationFilter { dates: vec![at], ..RelationFilter::default() };
        group.bench_function("hub_relations_page_20_valid_at_by_date_desc", |b| {
            b.iter(|| {
                let all = g.relations_where(&hub, Direction::Both, &dated);
                g.relation_page(&hub, all, (RelationSort::Date, true), None, 20).0.len()
            })
        });
        let f = StepFilter::default();
        let f_at = StepFilter { valid: Some(at), ..StepFilter::default() };
        group.bench_function("shortest_path_fewest_hops_valid_at", |b| {
            b.iter(|| {
                i = (i + 1) % ids.len();
                let j = (i * 7919 + 13) % ids.len();
                algo::shortest_path(g, &ids[i], &ids[j], &f_at, 6, PathRanking::FewestHops, &Deadline::NONE)
                    .map(|p| p.steps.len())
            })
        });
        group.bench_function("neighbourhood_2_hops_limit_100", |b| {
            b.iter(|| {
                i = (i + 1) % ids.len();
                algo::neighbourhood(g, &ids[i], 2, 100, &f, true, &Deadline::NONE).map(|x| x.nodes.len())
            })
        });
        group.bench_function("shortest_path_fewest_hops", |b| {
            b.iter(|| {
                i = (i + 1) % ids.len();
                let j = (i * 7919 + 13) % ids.len();
                algo::shortest_path(g, &ids[i], &ids[j], &f, 6, PathRanking::FewestHops, &Deadline::NONE)
                    .map(|p| p.steps.len())
            })
        });
        group.bench_function("shortest_path_avoid_hubs", |b| {
            b.iter(|| {
                i = (i + 1) % ids.len();
                let j = (i * 7919 + 13) % ids.len();
                algo::shortest_path(g, &ids[i], &ids[j], &f, 6, PathRanking::AvoidHubs, &Deadline::NONE)
                    .map(|p| p.steps.len())
            })
        });
        group.finish();
        // The mutation takes the index's write lock: release the read view first.
        drop(guard);

        let mut group = c.benchmark_group(format!("{n}_entities"));
        group.sample_size(20);
        let mut k = 0u64;
        group.bench_function("mutation_commit_durable", |b| {
            b.iter(|| {
                k += 1;
                let edit = Edit::AddAlias {
                    id: ids[(k as usize) % ids.len()].clone(),
                    alias: format!("bench alias {k}"),
                    citations: Vec::new(),
                };
                rt.block_on(service.edit("bench", edit)).unwrap().generation
            })
        });
        group.finish();
        drop(service);
        sorted_pages(c, n);
    }
}

/// Sorted and filtered pages of 20 (the page size `entities` gives by default), each after a
/// cursor at a different place in the list, and `searchResults` in summaries. The graph is the
/// one above with dates, sub-types and summaries (`synthetic::decorate`), built in memory by the
/// loaders a start uses.
fn sorted_pages(c: &mut Criterion, n: usize) {
    let (mut es, rs) = policygraph::synthetic::generate(n, n * 5, 42);
    policygraph::synthetic::decorate(&mut es, 42);
    let mut g = GraphIndex::default();
    let mut loader = g.load_entities();
    for e in es {
        loader.add(e);
    }
    loader.finish();
    for r in rs {
        g.upsert_relation(r).unwrap();
    }
    let sample: Vec<_> = g.entities(None, None).step_by((n / 500).max(1)).cloned().collect();
    let mut group = c.benchmark_group(format!("{n}_entities"));
    group.sample_size(50);
    let none = EntityFilter::default();
    let mut i = 0usize;
    for (label, order) in [
        ("entities_by_name_20", OrderField::Name),
        ("entities_by_date_20", OrderField::Date),
        ("entities_by_degree_20", OrderField::Degree),
    ] {
        // Ranked once before timing, as a server ranks once after a change.
        let positions: Vec<Position> =
            sample.iter().map(|e| Position { key: g.sort_key(e, order), slug: e.slug.to_string() }).collect();
        group.bench_function(label, |b| {
            b.iter(|| {
                i = (i + 1) % positions.len();
                let page =
                    g.entities_sorted(&none, order, i % 2 == 1, Some(&positions[i]), 20, &mut Deadline::NONE.ticker());
                page.map(|p| p.items.len())
            })
        });
    }
    // A name's first two letters: one of twenty syllables, so about a twentieth of the graph.
    let prefixes: Vec<EntityFilter> = sample
        .iter()
        .map(|e| EntityFilter {
            name_prefix: Some(policygraph::graph::normalize(&e.name)[..2].to_string()),
            ..Default::default()
        })
        .collect();
    group.bench_function("entities_name_prefix_20", |b| {
        b.iter(|| {
            i = (i + 1) % prefixes.len();
            let page = g.entities_sorted(&prefixes[i], OrderField::Slug, false, None, 20, &mut Deadline::NONE.ticker());
            page.map(|p| p.items.len())
        })
    });
    let words: Vec<String> = sample
        .iter()
        .filter_map(|e| e.summary.as_deref())
        .map(|s| s.split(' ').rev().nth(1).unwrap_or("works").to_lowercase())
        .collect();
    group.sample_size(10);
    group.bench_function("search_results_summaries", |b| {
        b.iter(|| {
            i = (i + 1) % words.len();
            g.search_in(&words[i], &[SearchField::Summaries], None, None, &mut Deadline::NONE.ticker()).map(|h| h.len())
        })
    });
    group.finish();
}

criterion_group!(graph, benches);
criterion_main!(graph);
