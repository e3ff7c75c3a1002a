//! `Entity.relations`: one entity's relations, filtered (`where: RelationFilter`), ordered
//! (`orderBy: RelationOrder`) and paged by cursors that carry their order.
//!
//! Shaped around three facts. The relations of one entity are bounded by its degree, so they are
//! filtered while its adjacency is walked (`graph::RelationFilter`, on the index's compact edge
//! data) and ordered by keys made once per request; no index per order is kept, and a hub's page
//! goes to the blocking pool like the other heavy resolvers. A cursor must survive writes, so it
//! holds the sort key and the relation ID of its relation rather than a position, and it names
//! its order, so that a cursor from one order cannot silently land in another (refused with
//! `BAD_USER_INPUT` on `after`). And clients hold cursors of the default order from before
//! `orderBy` existed: that order still writes and reads its cursors in the old format.

use std::borrow::Cow;

use async_graphql::{Context, Enum, ErrorExtensions, InputObject, Result, ID};

use super::error::ApiError;
use super::explore::entity_ref;
use super::filters::OrderDirection;
use super::types::{
    decode_cursor, encode_cursor, page_size, view, Direction, EntityKind, PageInfo, Relation, RelationConnection,
    RelationEdge, RelationKind,
};
use super::work::off_worker;
use crate::domain::{self, DateWindow, PartialDate};
use crate::graph::{self, GraphIndex, RelationSort, RelationSortKey};

/// From this many relations an entity's page is made on the blocking pool. Below it a page is a
/// few microseconds of keying and selecting, less than the hand-off to the pool; above, it grows
/// with the degree (a hub of 100,000 relations at 1M entities). Low enough that the curated
/// graph's hub (IOM, about 230 relations) takes this path, so the tests exercise it.
pub const OFF_WORKER_RELATIONS: usize = 200;

/// The longest `titleContains` accepted (titles are shorter).
pub const MAX_TITLE_QUERY: usize = 500;

/// Which of an entity's relations to list; every condition given must hold.
#[derive(InputObject, Default)]
#[graphql(name = "RelationFilter")]
pub struct RelationFilterInput {
    /// Only relations of these kinds. With the field's `kinds` argument, a relation must be of
    /// a kind both allow.
    pub kinds: Option<Vec<RelationKind>>,
    /// Outgoing, incoming or both. With the field's `direction` argument both apply:
    /// `OUTGOING` there and `INCOMING` here lists nothing.
    pub direction: Option<Direction>,
    /// The title contains this text, ignoring case, accents and punctuation: "director general"
    /// finds "Deputy Director-General". Untitled relations are left out.
    pub title_contains: Option<String>,
    /// Relations that may have held on or after this date (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`):
    /// their validity period overlaps `dateFrom`..`dateTo`. Undated ones count as overlapping
    /// unless `strict`.
    pub date_from: Option<String>,
    /// Relations that may have held on or before this date; see `dateFrom`.
    pub date_to: Option<String>,
    /// Relations that may have held on this date (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`). A partial
    /// date means each of its days, and so does a relation's: `validFrom: "2024-05"` is valid
    /// at `2024-05-10` and at `2024`, not at `2024-04`. A relation with only one end dated is
    /// open on the other. Undated relations count as valid unless `strict`.
    pub valid_at: Option<String>,
    /// With `validAt`, `dateFrom` or `dateTo`: leave out relations with neither `validFrom`
    /// nor `validUntil` instead of counting them as valid.
    #[graphql(default = false)]
    pub strict: bool,
    /// Only relations whose other end (the entity that is not this one) is of these kinds.
    pub other_kinds: Option<Vec<EntityKind>>,
    /// Only relations citing this document: its slug or global ID.
    pub cited_document: Option<ID>,
}

/// What to order an entity's relations by. Relations without the value (undated, untitled)
/// come last in both directions; ties are broken by relation key, in the same direction.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum RelationOrderField {
    /// `order` (relations without one last), then kind name: the order relation pages have
    /// always had.
    Default,
    /// `validFrom`, or `validUntil` where only that is known; a year sorts before its months
    /// and a month before its days.
    Date,
    /// The kind's name (`holds_role`, `office_of`, …).
    Kind,
    /// The title, ignoring case, accents and punctuation.
    Title,
    /// The name of the other end (the entity that is not this one), ignoring case, accents and
    /// punctuation.
    OtherName,
}

/// The order of an entity's relations.
#[derive(InputObject)]
pub struct RelationOrder {
    /// What to order by.
    pub field: RelationOrderField,
    /// Ascending (the default) or descending.
    #[graphql(default_with = "OrderDirection::Asc")]
    pub direction: OrderDirection,
}

impl RelationOrderField {
    fn sort(self) -> RelationSort {
        match self {
            RelationOrderField::Default => RelationSort::Default,
            RelationOrderField::Date => RelationSort::Date,
            RelationOrderField::Kind => RelationSort::Kind,
            RelationOrderField::Title => RelationSort::Title,
            RelationOrderField::OtherName => RelationSort::OtherName,
        }
    }

    fn name(self) -> &'static str {
        match self {
            RelationOrderField::Default => "DEFAULT",
            RelationOrderField::Date => "DATE",
            RelationOrderField::Kind => "KIND",
            RelationOrderField::Title => "TITLE",
            RelationOrderField::OtherName => "OTHER_NAME",
        }
    }
}

/// A date argument (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`), refused with `BAD_USER_INPUT` naming
/// the argument when it is not one.
pub fn date_arg(argument: &'static str, v: Option<&str>) -> Result<Option<PartialDate>> {
    v.map(|s| PartialDate::parse(s).map_err(|e| ApiError::bad_input(argument, e.0).extend())).transpose()
}

/// `validAt` and `strict` of the explorations, as the window their searches test.
pub fn valid_at_arg(valid_at: Option<&str>, strict: bool) -> Result<Option<DateWindow>> {
    Ok(date_arg("validAt", valid_at)?.map(|d| DateWindow::at(d, strict)))
}

/// Everything one page needs, resolved from the arguments: owned, so that it can travel to the
/// blocking pool.
struct Plan {
    entity_id: String,
    /// `None`: the two directions given exclude each other.
    direction: Option<graph::Direction>,
    filter: graph::RelationFilter,
    field: RelationOrderField,
    descending: bool,
    after: Option<(Option<RelationSortKey<'static>>, String)>,
    first: usize,
}

/// One page of an entity's relations (the `relations` field of every entity type).
#[allow(clippy::too_many_arguments)]
pub async fn relations_field(
    ctx: &Context<'_>,
    entity_id: &str,
    direction: Direction,
    kinds: Option<Vec<RelationKind>>,
    filter: Option<RelationFilterInput>,
    order: Option<RelationOrder>,
    first: Option<i32>,
    after: Option<String>,
) -> Result<RelationConnection> {
    let first = page_size(first)?;
    let g = view(ctx).await?;
    let plan = plan(&g, entity_id, direction, kinds, filter, order, first, after.as_deref())?;
    let (edges, total_count, start) = if g.has_relations(entity_id, OFF_WORKER_RELATIONS) {
        off_worker(ctx, g, move |g, _| page(g, &plan)).await?
    } else {
        page(&g, &plan)
    };
    let edges: Vec<RelationEdge> =
        edges.into_iter().map(|(cursor, r)| RelationEdge { cursor, node: Relation(r) }).collect();
    let page_info = PageInfo {
        has_next_page: start + edges.len() < total_count,
        has_previous_page: start > 0,
        start_cursor: edges.first().map(|e| e.cursor.clone()),
        end_cursor: edges.last().map(|e| e.cursor.clone()),
    };
    Ok(RelationConnection { edges, page_info, total_count })
}

/// The arguments of the field, checked and resolved into what one page needs; an error is the
/// field's.
#[allow(clippy::too_many_arguments)]
fn plan(
    g: &GraphIndex,
    entity_id: &str,
    direction: Direction,
    kinds: Option<Vec<RelationKind>>,
    filter: Option<RelationFilterInput>,
    order: Option<RelationOrder>,
    first: usize,
    after: Option<&str>,
) -> Result<Plan> {
    let filter = filter.unwrap_or_default();
    let (field, descending) =
        order.map_or((RelationOrderField::Default, false), |o| (o.field, o.direction == OrderDirection::Desc));
    let after = after.map(|c| decode_after(c, field, descending)).transpose()?;
    Ok(Plan {
        entity_id: entity_id.to_string(),
        direction: both_directions(direction, filter.direction),
        filter: graph_filter(g, kinds, filter)?,
        field,
        descending,
        after,
        first,
    })
}

/// One page of an entity's relations, read in place: what the compiled read path
/// ([`crate::compiled`]) answers `relations` with, given the field's arguments as async-graphql
/// parsed them (the same input types), through the same checks, page and cursor code as
/// [`relations_field`], so the two cannot differ. An error is what the field would answer; the
/// compiled path then leaves the query to async-graphql, which answers it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn plain_page<'g>(
    g: &'g GraphIndex,
    entity_id: &str,
    direction: Direction,
    kinds: Option<Vec<RelationKind>>,
    filter: Option<RelationFilterInput>,
    order: Option<RelationOrder>,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<RefPage<'g>> {
    let first = page_size(first)?;
    let plan = plan(g, entity_id, direction, kinds, filter, order, first, after)?;
    Ok(page_refs(g, &plan))
}

/// A page's relations read in place, with their cursors, how many match in all, and how many
/// precede the page.
pub(crate) type RefPage<'g> = (Vec<(String, graph::RelationRef<'g>)>, usize, usize);

/// The page's relations with their cursors, how many match in all, and how many precede the
/// page.
pub(crate) type PageOut = (Vec<(String, std::sync::Arc<domain::Relation>)>, usize, usize);

fn page(g: &GraphIndex, plan: &Plan) -> PageOut {
    let (edges, total, start) = page_refs(g, plan);
    (edges.into_iter().map(|(cursor, r)| (cursor, r.get())).collect(), total, start)
}

fn page_refs<'g>(g: &'g GraphIndex, plan: &Plan) -> RefPage<'g> {
    let Some(direction) = plan.direction else { return (Vec::new(), 0, 0) };
    let all = g.relations_where(&plan.entity_id, direction, &plan.filter);
    let total = all.len();
    let after = plan.after.as_ref().map(|(k, id)| (k.as_ref(), id.as_str()));
    let order = (plan.field.sort(), plan.descending);
    let (rows, remaining) = g.relation_page(&plan.entity_id, all, order, after, plan.first);
    let edges =
        rows.into_iter().map(|(key, r)| (cursor(plan.field, plan.descending, key.as_ref(), r.id()), r)).collect();
    (edges, total, total - remaining)
}

/// Both direction arguments at once: what each allows.
fn both_directions(arg: Direction, filter: Option<Direction>) -> Option<graph::Direction> {
    use Direction::*;
    match (arg, filter.unwrap_or(Both)) {
        (Both, d) | (d, Both) => Some(d.into()),
        (a, b) if a == b => Some(a.into()),
        _ => None,
    }
}

fn graph_filter(
    g: &GraphIndex,
    kinds: Option<Vec<RelationKind>>,
    f: RelationFilterInput,
) -> Result<graph::RelationFilter> {
    let to_domain = |ks: Vec<RelationKind>| ks.into_iter().map(domain::RelationKind::from).collect::<Vec<_>>();
    let kinds = match (kinds.map(to_domain), f.kinds.map(to_domain)) {
        (Some(a), Some(b)) => Some(a.into_iter().filter(|k| b.contains(k)).collect()),
        (a, b) => a.or(b),
    };
    let title_contains = match f.title_contains {
        None => None,
        Some(t) if t.chars().count() > MAX_TITLE_QUERY => {
            return Err(ApiError::bad_input(
                "where.titleContains",
                format!("at most {MAX_TITLE_QUERY} characters (got {})", t.chars().count()),
            )
            .extend())
        }
        Some(t) => {
            let folded = graph::normalize(&t);
            if folded.is_empty() {
                return Err(ApiError::bad_input("where.titleContains", "has no letter or digit to look for").extend());
            }
            Some(folded)
        }
    };
    let mut dates = Vec::new();
    if let Some(d) = date_arg("where.validAt", f.valid_at.as_deref())? {
        dates.push(DateWindow::at(d, f.strict));
    }
    let (from, to) =
        (date_arg("where.dateFrom", f.date_from.as_deref())?, date_arg("where.dateTo", f.date_to.as_deref())?);
    if let (Some(a), Some(b)) = (from, to) {
        if a.first_day() > b.last_day() {
            return Err(ApiError::bad_input("where.dateTo", format!("`{b}` is before `dateFrom` `{a}`")).extend());
        }
    }
    if from.is_some() || to.is_some() {
        dates.push(DateWindow { from, to, strict: f.strict });
    }
    let cited_document = match f.cited_document {
        None => None,
        Some(d) => {
            let id = entity_ref(g, "where.citedDocument", &d)?;
            if g.entity(&id).is_some_and(|e| e.kind != domain::EntityKind::Document) {
                return Err(ApiError::bad_input("where.citedDocument", format!("`{}` is not a document", d.0)).extend());
            }
            Some(id)
        }
    };
    Ok(graph::RelationFilter {
        kinds,
        title_contains,
        dates,
        other_kinds: f.other_kinds.map(|ks| ks.into_iter().map(Into::into).collect()),
        cited_document,
    })
}

/// The legacy cursor (the default order, ascending: `order␟kind␟id`) or, for every other order,
/// `v2␟FIELD␟A|D␟key␟id`, the key `-` when the relation has none, else `+` and the key.
fn cursor(field: RelationOrderField, descending: bool, key: Option<&RelationSortKey<'_>>, id: &str) -> String {
    if let (RelationOrderField::Default, false, Some(RelationSortKey::Default(o, k))) = (field, descending, key) {
        return encode_cursor(&format!("{o}\u{1f}{k}\u{1f}{id}"));
    }
    let key = match key {
        None => "-".to_string(),
        Some(RelationSortKey::Default(o, k)) => format!("+{o}\u{1e}{k}"),
        Some(RelationSortKey::Date(d)) => format!("+{d}"),
        Some(RelationSortKey::Kind(k)) => format!("+{k}"),
        Some(RelationSortKey::Text(t)) => format!("+{t}"),
    };
    let dir = if descending { "D" } else { "A" };
    encode_cursor(&format!("v2\u{1f}{}\u{1f}{dir}\u{1f}{key}\u{1f}{id}", field.name()))
}

/// The boundary a cursor names, if it was made under this order.
fn decode_after(
    c: &str,
    field: RelationOrderField,
    descending: bool,
) -> Result<(Option<RelationSortKey<'static>>, String)> {
    let raw = decode_cursor(c, "after")?;
    let not_ours = || ApiError::bad_input("after", format!("`{c}` is not a relations cursor")).extend();
    let this_order = format!("{} {}", field.name(), if descending { "DESC" } else { "ASC" });
    let other_order = |made: &str| {
        ApiError::bad_input(
            "after",
            format!("`{c}` was made for the order {made}, and this page is ordered by {this_order}; start again without `after`"),
        )
        .extend()
    };
    let kind = |k: &str| k.parse::<domain::RelationKind>().map(|k| k.as_str()).map_err(|_| not_ours());
    let Some(rest) = raw.strip_prefix("v2\u{1f}") else {
        // The default order's cursor, as the API has always written it.
        let mut parts = raw.splitn(3, '\u{1f}');
        let (Some(o), Some(k), Some(id)) = (parts.next(), parts.next(), parts.next()) else { return Err(not_ours()) };
        let o: i32 = o.parse().map_err(|_| not_ours())?;
        if field != RelationOrderField::Default || descending {
            return Err(other_order("DEFAULT ASC"));
        }
        return Ok((Some(RelationSortKey::Default(o, kind(k)?)), id.to_string()));
    };
    let mut parts = rest.splitn(4, '\u{1f}');
    let (Some(f), Some(dir), Some(key), Some(id)) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(not_ours());
    };
    let made = format!("{f} {}", if dir == "D" { "DESC" } else { "ASC" });
    if f != field.name() || (dir == "D") != descending || !matches!(dir, "A" | "D") {
        return Err(other_order(&made));
    }
    let key = match key.strip_prefix('+') {
        None if key == "-" => None,
        None => return Err(not_ours()),
        Some(v) => Some(match field {
            RelationOrderField::Default => {
                let (o, k) = v.split_once('\u{1e}').ok_or_else(not_ours)?;
                RelationSortKey::Default(o.parse().map_err(|_| not_ours())?, kind(k)?)
            }
            RelationOrderField::Date => RelationSortKey::Date(PartialDate::parse(v).map_err(|_| not_ours())?),
            RelationOrderField::Kind => RelationSortKey::Kind(kind(v)?),
            RelationOrderField::Title | RelationOrderField::OtherName => {
                RelationSortKey::Text(Cow::Owned(v.to_string()))
            }
        }),
    };
    Ok((key, id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_in_their_own_order_only() {
        let cases = [
            (RelationOrderField::Default, false, Some(RelationSortKey::Default(3, "has_pillar"))),
            (RelationOrderField::Default, true, Some(RelationSortKey::Default(i32::MAX, "holds_role"))),
            (RelationOrderField::Date, true, Some(RelationSortKey::Date(PartialDate::parse("2024-05").unwrap()))),
            (RelationOrderField::Date, false, None),
            (RelationOrderField::Kind, false, Some(RelationSortKey::Kind("office_of"))),
            (RelationOrderField::Title, true, Some(RelationSortKey::Text(Cow::Owned("director general".into())))),
            (RelationOrderField::OtherName, false, Some(RelationSortKey::Text(Cow::Owned("iom".into())))),
        ];
        for (field, desc, key) in &cases {
            let c = cursor(*field, *desc, key.as_ref(), "holds_role:a:b\u{1f}odd");
            let (k, id) = decode_after(&c, *field, *desc).unwrap();
            assert_eq!((&k, id.as_str()), (key, "holds_role:a:b\u{1f}odd"));
            // Any other order refuses it.
            for (other, odesc, _) in &cases {
                if (other, odesc) != (field, desc) {
                    assert!(decode_after(&c, *other, *odesc).is_err(), "{field:?} {desc} read as {other:?} {odesc}");
                }
            }
        }
        // The default order's cursor keeps the format clients already hold.
        let old = encode_cursor("3\u{1f}has_pillar\u{1f}has_pillar:s:p");
        assert_eq!(
            cursor(
                RelationOrderField::Default,
                false,
                Some(&RelationSortKey::Default(3, "has_pillar")),
                "has_pillar:s:p"
            ),
            old
        );
        assert!(decode_after(&encode_cursor("x\u{1f}y"), RelationOrderField::Default, false).is_err());
    }

    #[test]
    fn two_direction_arguments_narrow_each_other() {
        use Direction::*;
        assert_eq!(both_directions(Both, None), Some(graph::Direction::Both));
        assert_eq!(both_directions(Both, Some(Incoming)), Some(graph::Direction::Incoming));
        assert_eq!(both_directions(Outgoing, Some(Outgoing)), Some(graph::Direction::Outgoing));
        assert_eq!(both_directions(Outgoing, Some(Incoming)), None);
    }
}
