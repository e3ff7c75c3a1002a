//! Exports of the whole graph or a neighbourhood as GraphML, GEXF (Gephi) and Cytoscape.js
//! JSON, with citations kept as edge attributes (a JSON string in the XML formats).

use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::domain::{Entity, Relation};
use crate::graph::algo::{self, StepFilter};
use crate::graph::GraphIndex;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Graphml,
    Gexf,
    Cyjs,
    /// The records `policygraph import` reads back.
    Jsonl,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Graphml => "application/graphml+xml; charset=utf-8",
            Format::Gexf => "application/gexf+xml; charset=utf-8",
            Format::Cyjs => "application/json; charset=utf-8",
            Format::Jsonl => "application/x-ndjson; charset=utf-8",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Format::Graphml => "graphml",
            Format::Gexf => "gexf",
            Format::Cyjs => "cyjs.json",
            Format::Jsonl => "jsonl",
        }
    }
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "graphml" => Some(Format::Graphml),
            "gexf" => Some(Format::Gexf),
            "cyjs" | "cyjs.json" | "json" => Some(Format::Cyjs),
            "jsonl" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

/// What to export: the whole graph, or the neighbourhood of one entity.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Centre slug; the whole graph when `None`.
    pub slug: Option<String>,
    pub depth: usize,
    pub limit: usize,
    pub include_provenance: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no entity with the slug `{0}`")]
    NotFound(String),
}

/// Entities and relations, in export order.
pub type Subgraph = (Vec<Arc<Entity>>, Vec<Arc<Relation>>);

/// The entities and relations a selection covers, in a stable order.
pub fn select(g: &GraphIndex, sel: &Selection) -> Result<Subgraph, ExportError> {
    match &sel.slug {
        None => {
            let entities: Vec<Arc<Entity>> = g.entities(None, None).cloned().collect();
            let mut relations: Vec<Arc<Relation>> = g
                .all_relations()
                .filter(|r| sel.include_provenance || r.kind() != crate::domain::RelationKind::Mentions)
                .map(|r| r.get())
                .collect();
            relations.sort_by(|a, b| a.id.cmp(&b.id));
            Ok((entities, relations))
        }
        Some(slug) => {
            let e = g.entity_by_slug(slug).ok_or_else(|| ExportError::NotFound(slug.clone()))?;
            let f = StepFilter { include_provenance: sel.include_provenance, ..StepFilter::default() };
            let n = algo::neighbourhood(
                g,
                &e.id,
                sel.depth.max(1),
                sel.limit.max(1),
                &f,
                false,
                &crate::deadline::Deadline::NONE,
            )
            .ok_or_else(|| ExportError::NotFound(slug.clone()))?;
            Ok((n.nodes.into_iter().map(|(e, _, _)| e).collect(), n.edges))
        }
    }
}

/// `texts` are the documents' texts, which JSON Lines carries inline.
pub fn render(
    format: Format,
    g: &GraphIndex,
    entities: &[Arc<Entity>],
    relations: &[Arc<Relation>],
    texts: &crate::domain::DocumentTexts,
) -> String {
    match format {
        Format::Graphml => graphml(g, entities, relations),
        Format::Gexf => gexf(g, entities, relations),
        Format::Cyjs => cytoscape(g, entities, relations).to_string(),
        Format::Jsonl => {
            let mut out = Vec::new();
            // Writing into a Vec cannot fail.
            let _ = jsonl(entities.iter().map(|e| &**e), relations.iter().map(|r| (**r).clone()), texts, &mut out);
            String::from_utf8(out).unwrap_or_default()
        }
    }
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// The slug of an entity ID (exports name nodes by slug, readable in every tool).
fn slug_of(g: &GraphIndex, id: &str) -> String {
    g.entity(id).map(|e| e.slug.to_string()).unwrap_or_else(|| id.to_string())
}

fn citations_json(g: &GraphIndex, r: &Relation) -> Value {
    Value::Array(
        r.citations
            .iter()
            .map(|c| {
                let doc = g.entity(&c.document);
                json!({
                    "document": doc.map(|d| d.slug.to_string()).unwrap_or_else(|| c.document.clone()),
                    "title": doc.map(|d| d.name.clone()),
                    "file": doc.and_then(|d| d.extra.file.clone()),
                    "quote": c.quote,
                })
            })
            .collect(),
    )
}

fn node_attrs(e: &Entity) -> Vec<(&'static str, String)> {
    let mut v = vec![("name", e.name.clone()), ("kind", e.kind.as_str().to_string())];
    if let Some(t) = &e.subtype {
        v.push(("type", t.clone()));
    }
    if let Some(d) = e.date {
        v.push(("date", d.to_string()));
    }
    if !e.aliases.is_empty() {
        v.push(("aliases", e.aliases.join("; ")));
    }
    v
}

fn edge_attrs(g: &GraphIndex, r: &Relation) -> Vec<(&'static str, String)> {
    let mut v = vec![("kind", r.kind.as_str().to_string())];
    if let Some(t) = &r.title {
        v.push(("title", t.clone()));
    }
    if let Some(d) = r.valid_from {
        v.push(("valid_from", d.to_string()));
    }
    if let Some(d) = r.valid_until {
        v.push(("valid_until", d.to_string()));
    }
    v.push(("citations", citations_json(g, r).to_string()));
    if !r.quantities.is_empty() {
        v.push(("quantities", serde_json::to_string(&r.quantities).unwrap_or_default()));
    }
    v
}

const NODE_KEYS: [&str; 5] = ["name", "kind", "type", "date", "aliases"];
const EDGE_KEYS: [&str; 6] = ["kind", "title", "valid_from", "valid_until", "citations", "quantities"];

fn graphml(g: &GraphIndex, entities: &[Arc<Entity>], relations: &[Arc<Relation>]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:schemaLocation=\"http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd\">\n",
    );
    for k in NODE_KEYS {
        let _ = writeln!(s, "  <key id=\"n_{k}\" for=\"node\" attr.name=\"{k}\" attr.type=\"string\"/>");
    }
    for k in EDGE_KEYS {
        let _ = writeln!(s, "  <key id=\"e_{k}\" for=\"edge\" attr.name=\"{k}\" attr.type=\"string\"/>");
    }
    s.push_str("  <graph id=\"policygraph\" edgedefault=\"directed\">\n");
    for e in entities {
        let _ = writeln!(s, "    <node id=\"{}\">", xml(e.slug.as_str()));
        for (k, v) in node_attrs(e) {
            let _ = writeln!(s, "      <data key=\"n_{k}\">{}</data>", xml(&v));
        }
        s.push_str("    </node>\n");
    }
    for r in relations {
        let _ = writeln!(
            s,
            "    <edge id=\"{}\" source=\"{}\" target=\"{}\">",
            xml(&r.id),
            xml(&slug_of(g, &r.from)),
            xml(&slug_of(g, &r.to))
        );
        for (k, v) in edge_attrs(g, r) {
            let _ = writeln!(s, "      <data key=\"e_{k}\">{}</data>", xml(&v));
        }
        s.push_str("    </edge>\n");
    }
    s.push_str("  </graph>\n</graphml>\n");
    s
}

fn gexf(g: &GraphIndex, entities: &[Arc<Entity>], relations: &[Arc<Relation>]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gexf xmlns=\"http://gexf.net/1.3\" version=\"1.3\">\n  \
         <meta><creator>policygraph</creator><description>migration governance knowledge graph; every edge cites its source</description></meta>\n  \
         <graph defaultedgetype=\"directed\" mode=\"static\">\n    <attributes class=\"node\">\n",
    );
    for k in NODE_KEYS.iter().skip(1) {
        let _ = writeln!(s, "      <attribute id=\"{k}\" title=\"{k}\" type=\"string\"/>");
    }
    s.push_str("    </attributes>\n    <attributes class=\"edge\">\n");
    for k in EDGE_KEYS {
        let _ = writeln!(s, "      <attribute id=\"{k}\" title=\"{k}\" type=\"string\"/>");
    }
    s.push_str("    </attributes>\n    <nodes>\n");
    for e in entities {
        let _ = writeln!(s, "      <node id=\"{}\" label=\"{}\">", xml(e.slug.as_str()), xml(&e.name));
        s.push_str("        <attvalues>\n");
        for (k, v) in node_attrs(e).into_iter().filter(|(k, _)| *k != "name") {
            let _ = writeln!(s, "          <attvalue for=\"{k}\" value=\"{}\"/>", xml(&v));
        }
        s.push_str("        </attvalues>\n      </node>\n");
    }
    s.push_str("    </nodes>\n    <edges>\n");
    for r in relations {
        let label = r.title.clone().unwrap_or_else(|| r.kind.as_str().to_string());
        let _ = writeln!(
            s,
            "      <edge id=\"{}\" source=\"{}\" target=\"{}\" label=\"{}\">",
            xml(&r.id),
            xml(&slug_of(g, &r.from)),
            xml(&slug_of(g, &r.to)),
            xml(&label)
        );
        s.push_str("        <attvalues>\n");
        for (k, v) in edge_attrs(g, r) {
            let _ = writeln!(s, "          <attvalue for=\"{k}\" value=\"{}\"/>", xml(&v));
        }
        s.push_str("        </attvalues>\n      </edge>\n");
    }
    s.push_str("    </edges>\n  </graph>\n</gexf>\n");
    s
}

fn cytoscape(g: &GraphIndex, entities: &[Arc<Entity>], relations: &[Arc<Relation>]) -> Value {
    let nodes: Vec<Value> = entities
        .iter()
        .map(|e| {
            json!({ "data": {
                "id": e.slug.as_str(), "name": e.name, "kind": e.kind.as_str(), "type": e.subtype,
                "date": e.date.map(|d| d.to_string()), "aliases": e.aliases,
            } })
        })
        .collect();
    let edges: Vec<Value> = relations
        .iter()
        .map(|r| {
            json!({ "data": {
                "id": r.id, "source": slug_of(g, &r.from), "target": slug_of(g, &r.to), "kind": r.kind.as_str(),
                "title": r.title, "valid_from": r.valid_from.map(|d| d.to_string()),
                "valid_until": r.valid_until.map(|d| d.to_string()),
                "citations": citations_json(g, r), "quantities": r.quantities,
            } })
        })
        .collect();
    json!({ "format_version": "1.0", "generated_by": "policygraph", "data": { "name": "policygraph" },
            "elements": { "nodes": nodes, "edges": edges } })
}

/// Writes the graph as the JSON Lines `policygraph import` reads (`docs/import.md`): every
/// entity, then every relation, one record per line, in the one draft form of `validate`; a
/// document whose text is in `texts` carries it inline, so the file stands alone. Importing
/// it into an empty store gives the same graph (versions start again at 1; the audit history
/// is not part of an export).
pub fn jsonl<'a>(
    entities: impl Iterator<Item = &'a Entity>,
    relations: impl Iterator<Item = Relation>,
    texts: &crate::domain::DocumentTexts,
    out: &mut dyn std::io::Write,
) -> std::io::Result<(u64, u64)> {
    #[derive(serde::Serialize)]
    enum Line<'a> {
        #[serde(rename = "entity")]
        Entity(&'a crate::validate::DraftEntity),
        #[serde(rename = "relation")]
        Relation(&'a crate::validate::DraftRelation),
    }
    let (mut ne, mut nr) = (0, 0);
    for e in entities {
        let mut draft = crate::validate::draft_of_entity(e);
        draft.text = e.extra.file.as_deref().and_then(|f| texts.get(f)).map(|t| t.text().to_string());
        serde_json::to_writer(&mut *out, &Line::Entity(&draft))?;
        out.write_all(b"\n")?;
        ne += 1;
    }
    for r in relations {
        serde_json::to_writer(&mut *out, &Line::Relation(&crate::validate::draft_of_relation(&r)))?;
        out.write_all(b"\n")?;
        nr += 1;
    }
    Ok((ne, nr))
}
