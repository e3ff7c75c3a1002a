//! Query cost: a limit on how much work one request may ask for, where a list field's cost
//! grows with the page size it asks for.
//!
//! async-graphql's own complexity count ignores `first` on fields selected through an interface
//! (it only applies per-field costs under object types), so the cost is computed here, on the
//! parsed document, before validation and execution. The walk is by field name and argument, so
//! it needs no type information and also covers fragments and interfaces.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Response, ServerError, ServerResult, Variables};
use async_graphql_value::{ConstValue, Value as AstValue};

use super::error::code;
use super::types::DEFAULT_PAGE;

/// The most a request may cost. `entity { relations(first: 100) { edges { node { kind title
/// to { name } citations { quote document { title } } } } } }` costs about 1,000; a page of
/// 100 entities each with 100 relations is refused.
pub const MAX_COST: u64 = 10_000;
/// Deep enough for GraphiQL's introspection query (about 13 levels), not for abuse.
pub const MAX_DEPTH: usize = 16;

/// Set in the request data by the HTTP layer; marked once execution starts, so that the layer
/// knows whether a failure happened before execution (a 4xx under the GraphQL-over-HTTP spec).
#[derive(Clone, Default)]
pub struct ExecutionStarted(pub Arc<AtomicBool>);

impl ExecutionStarted {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The extension that applies [`MAX_COST`] and records [`ExecutionStarted`].
pub struct Limits {
    pub max_cost: u64,
}

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LimitsExtension { max_cost: self.max_cost })
    }
}

struct LimitsExtension {
    max_cost: u64,
}

#[async_graphql::async_trait::async_trait]
impl Extension for LimitsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let cost = document_cost(&doc, variables);
        if cost > self.max_cost {
            let mut err = ServerError::new(
                format!("query is too complex: it costs {cost}, the limit is {} (a list multiplies the cost of what it selects by its `first`; ask for smaller pages)", self.max_cost),
                None,
            );
            let mut ext = async_graphql::ErrorExtensionValues::default();
            ext.set("code", code::TOO_COMPLEX);
            ext.set("cost", cost);
            ext.set("maxCost", self.max_cost);
            err.extensions = Some(ext);
            return Err(err);
        }
        Ok(doc)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(flag) = ctx.data_opt::<ExecutionStarted>() {
            flag.0.store(true, Ordering::SeqCst);
        }
        next.run(ctx, operation_name).await
    }
}

/// The cost of the costliest operation in the document.
pub fn document_cost(doc: &ExecutableDocument, variables: &Variables) -> u64 {
    let walker = Walker { doc, variables, fragments: Default::default() };
    match &doc.operations {
        DocumentOperations::Single(op) => walker.selection_set(&op.node.selection_set.node, 0),
        DocumentOperations::Multiple(ops) => {
            ops.values().map(|op| walker.selection_set(&op.node.selection_set.node, 0)).max().unwrap_or(0)
        }
    }
}

struct Walker<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    /// A fragment's cost does not depend on where it is spread, so each is computed once
    /// (`None` while in progress: a cycle, which validation refuses later, counts as 0). Without
    /// this, fragments that each spread the next twice would cost exponential time to walk.
    fragments: std::cell::RefCell<std::collections::HashMap<Name, Option<u64>>>,
}

/// Inline fragments nest in the document itself; the parser's recursion limit bounds them too.
const MAX_FRAGMENT_NESTING: usize = 64;

impl Walker<'_> {
    fn selection_set(&self, set: &SelectionSet, nesting: usize) -> u64 {
        if nesting > MAX_FRAGMENT_NESTING {
            return 0;
        }
        let mut cost: u64 = 0;
        for item in &set.items {
            let c = match &item.node {
                Selection::Field(f) => {
                    let f = &f.node;
                    let child = self.selection_set(&f.selection_set.node, nesting);
                    let factor = self.factor(f);
                    1u64.saturating_add(factor.saturating_mul(child))
                }
                Selection::FragmentSpread(s) => self.fragment(&s.node.fragment_name.node, nesting),
                Selection::InlineFragment(i) => self.selection_set(&i.node.selection_set.node, nesting + 1),
            };
            cost = cost.saturating_add(c);
        }
        cost
    }

    fn fragment(&self, name: &Name, nesting: usize) -> u64 {
        if let Some(known) = self.fragments.borrow().get(name) {
            return known.unwrap_or(0);
        }
        let Some(frag) = self.doc.fragments.get(name) else { return 0 };
        self.fragments.borrow_mut().insert(name.clone(), None);
        let cost = self.selection_set(&frag.node.selection_set.node, nesting + 1);
        self.fragments.borrow_mut().insert(name.clone(), Some(cost));
        cost
    }

    /// How many times a field's selection is paid for: its page size for lists.
    fn factor(&self, f: &async_graphql::parser::types::Field) -> u64 {
        let field = f.name.node.as_str();
        let arg = |name: &str| f.get_argument(name).map(|v| &v.node);
        if let Some(v) = arg("first").or_else(|| arg("limit")) {
            if let Some(n) = self.resolve(v).and_then(|v| match v {
                ConstValue::Number(n) => n.as_u64(),
                _ => None,
            }) {
                return n.max(1);
            }
            return DEFAULT_PAGE as u64;
        }
        if field == "nodes" {
            if let Some(ConstValue::List(ids)) = arg("ids").and_then(|v| self.resolve(v)) {
                return (ids.len() as u64).max(1);
            }
        }
        match field {
            "relations" | "entities" | "search" | "changes" | "timeline" | "ranking" | "connections" => {
                DEFAULT_PAGE as u64
            }
            "paths" => 10,
            "neighborhood" => 40,
            _ => 1,
        }
    }

    fn resolve(&self, v: &AstValue) -> Option<ConstValue> {
        match v {
            AstValue::Variable(name) => self.variables.get(name).cloned(),
            other => other.clone().into_const(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(q: &str) -> u64 {
        document_cost(&async_graphql::parser::parse_query(q).unwrap(), &Variables::default())
    }

    #[test]
    fn first_multiplies_what_the_list_selects() {
        assert_eq!(cost("{ a }"), 1);
        assert_eq!(cost("{ e { relations(first: 10) { x } } }"), 1 + (1 + 10));
        assert_eq!(cost("{ e { relations(first: 10) { x y } } }"), 1 + (1 + 20));
        // The default page counts when `first` is absent.
        assert_eq!(cost("{ e { relations { x } } }"), 1 + (1 + DEFAULT_PAGE as u64));
    }

    #[test]
    fn fragments_and_interfaces_are_counted() {
        let direct = cost("{ entities(first: 100) { edges { node { relations(first: 100) { totalCount } } } } }");
        let via_fragment = cost(
            "{ entities(first: 100) { edges { node { ...F } } } } fragment F on Entity { ... on Person { relations(first: 100) { totalCount } } }",
        );
        assert_eq!(direct, via_fragment);
        assert!(direct > MAX_COST);
    }

    #[test]
    fn variables_are_resolved() {
        let doc =
            async_graphql::parser::parse_query("query($n: Int) { search(query: \"x\", first: $n) { name } }").unwrap();
        let vars = Variables::from_json(serde_json::json!({ "n": 7 }));
        assert_eq!(document_cost(&doc, &vars), 1 + 7);
    }

    #[test]
    fn cyclic_and_fanning_fragments_terminate() {
        assert!(cost("{ ...A } fragment A on Query { a ...B } fragment B on Query { ...A }") < 1_000);
        let mut q = String::from("{ ...F0 }");
        for i in 0..60 {
            q.push_str(&format!(" fragment F{i} on Query {{ ...F{n} ...F{n} }}", n = i + 1));
        }
        q.push_str(" fragment F60 on Query { a }");
        // 2^60 leaves: saturates, and is computed without walking them.
        assert!(cost(&q) > MAX_COST);
    }
}
