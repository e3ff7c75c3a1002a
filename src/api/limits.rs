//! Query cost: a limit on how much work one request may ask for. Each field is priced by the
//! work its resolver does: a list multiplies the cost of what it selects by its page size, a
//! search whose work grows with the graph costs by the graph's current size, introspection by
//! the schema's size, and every alias is a field of its own. The price list is in the README
//! ("How a query is costed").
//!
//! async-graphql's own complexity count ignores `first` on fields selected through an interface
//! (it only applies per-field costs under object types), so the cost is computed here, on the
//! parsed document, before validation and execution. The walk is by field name and argument, so
//! it needs no type information and also covers fragments and interfaces. It runs in a schema
//! extension, so every way in (POST, GET, persisted queries, websocket) is costed alike.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, Field, OperationDefinition, Selection, SelectionSet,
    ServiceDocument, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::{ErrorExtensions, Name, PathSegment, Pos, Response, ServerError, ServerResult, Value, Variables};
use async_graphql_value::{ConstValue, Value as AstValue};

use super::error::{code, ApiError};
use super::types::{DEFAULT_PAGE, MAX_PAGE};
use crate::service::{IndexStats, Service};

/// The most a request may cost. `entity { relations(first: 100) { edges { node { kind title
/// to { name } citations { quote document { title } } } } } }` costs about 1,000; a page of
/// 100 entities each with 100 relations is refused, and so is GraphiQL's introspection query
/// sent twice in one request.
pub const MAX_COST: u64 = 10_000;
/// Deep enough for GraphiQL's introspection query (about 13 levels), not for abuse.
pub const MAX_DEPTH: usize = 16;

/// `shortestPath`: a bidirectional search of at most `maxLength` levels.
pub const SHORTEST_PATH_PER_HOP: u64 = 20;
/// `paths`: a depth-first enumeration that grows with the branching at each level, up to its
/// fixed work budget: `PATHS_BASE × 2^maxLength`, at most [`PATHS_MAX`].
pub const PATHS_BASE: u64 = 20;
/// The most a `paths` search costs: its work budget (200,000 expansions) is spent by then.
pub const PATHS_MAX: u64 = 5_000;
/// `neighborhood` at depth 1, 2 and 3: each ring walks the relations of the one before.
pub const NEIGHBORHOOD_BY_DEPTH: [u64; 3] = [10, 50, 250];
/// `timeline(entity:)`: one entity's relations and neighbours.
pub const TIMELINE_OF_ENTITY: u64 = 50;

/// `Document.text`: the whole text in the answer.
pub const DOCUMENT_TEXT: u64 = 10;
/// `Citation.offset` and `context`: a quote located in its document's text.
pub const LOCATED_QUOTE: u64 = 2;

/// Set in the request data by the HTTP layer; marked once execution starts, so that the layer
/// knows whether a failure happened before execution (a 4xx under the GraphQL-over-HTTP spec).
#[derive(Clone, Default)]
pub struct ExecutionStarted(pub Arc<AtomicBool>);

impl ExecutionStarted {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The prices that depend on the graph's size and the schema's, fixed for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostModel {
    /// `search`: candidates come from a word index, but a short query matches many.
    pub search: u64,
    /// `timeline` without `entity`: every entity and relation is read and the dated ones sorted.
    pub timeline: u64,
    /// `ranking`: every entity (of the kinds asked) is sorted.
    pub ranking: u64,
    /// `connections`: the relations of both entities are read, and hubs grow with the graph.
    pub connections: u64,
    /// `relations` with `where` or `orderBy`: one entity's relations are each tested and given
    /// a sort key (a title folded), and hubs grow with the graph. About half of `connections`,
    /// which reads two entities' relations.
    pub relations_sorted: u64,
    /// What introspection can list.
    pub schema: SchemaSize,
}

impl CostModel {
    /// The prices for a graph of this size (read without the index's lock) and this schema.
    pub fn for_graph(graph: IndexStats, schema: SchemaSize) -> CostModel {
        let (e, r) = (graph.entities, graph.relations);
        CostModel {
            search: (e / 100).clamp(10, 1_000),
            timeline: (e.saturating_add(r) / 100).clamp(10, 5_000),
            ranking: (e / 100).clamp(10, 5_000),
            connections: (r / 1_000).clamp(50, 1_000),
            relations_sorted: (r / 2_000).clamp(10, 500),
            schema,
        }
    }
}

/// What the schema holds, as introspection lists it: totals, and the most one type (or field,
/// or directive) has, for lists of one type's items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchemaSize {
    pub types: u64,
    /// Fields of object and interface types.
    pub fields: u64,
    pub max_fields: u64,
    /// Arguments of those fields.
    pub args: u64,
    pub max_args: u64,
    pub input_fields: u64,
    pub max_input_fields: u64,
    pub enum_values: u64,
    pub max_enum_values: u64,
    /// The interfaces types implement.
    pub interfaces: u64,
    pub max_interfaces: u64,
    /// The possible types of interfaces and unions.
    pub possible_types: u64,
    pub max_possible_types: u64,
    pub directives: u64,
    pub directive_args: u64,
    pub max_directive_args: u64,
    /// `type_refs[k]`: how many type references (of fields, arguments and input fields) have at
    /// least `k` levels of `ofType` (`[ID!]!` has 3; past them `ofType` is null).
    pub type_refs: [u64; MAX_WRAPPING + 2],
}

/// The most `ofType` levels counted; a deeper type reference counts as this deep.
const MAX_WRAPPING: usize = 8;

/// The types and directives every schema has, which the SDL leaves out.
const BUILT_IN_SDL: &str = r#"
type __Schema { description: String types: [__Type!]! queryType: __Type! mutationType: __Type subscriptionType: __Type directives: [__Directive!]! }
type __Type { kind: __TypeKind! name: String description: String fields(includeDeprecated: Boolean = false): [__Field!] interfaces: [__Type!] possibleTypes: [__Type!] enumValues(includeDeprecated: Boolean = false): [__EnumValue!] inputFields(includeDeprecated: Boolean = false): [__InputValue!] ofType: __Type specifiedByURL: String isOneOf: Boolean }
type __Field { name: String! description: String args(includeDeprecated: Boolean = false): [__InputValue!]! type: __Type! isDeprecated: Boolean! deprecationReason: String }
type __InputValue { name: String! description: String type: __Type! defaultValue: String isDeprecated: Boolean! deprecationReason: String }
type __EnumValue { name: String! description: String isDeprecated: Boolean! deprecationReason: String }
type __Directive { name: String! description: String locations: [__DirectiveLocation!]! args(includeDeprecated: Boolean = false): [__InputValue!]! isRepeatable: Boolean! }
enum __TypeKind { SCALAR OBJECT INTERFACE UNION ENUM INPUT_OBJECT LIST NON_NULL }
enum __DirectiveLocation { QUERY MUTATION SUBSCRIPTION FIELD FRAGMENT_DEFINITION FRAGMENT_SPREAD INLINE_FRAGMENT VARIABLE_DEFINITION SCHEMA SCALAR OBJECT FIELD_DEFINITION ARGUMENT_DEFINITION INTERFACE UNION ENUM ENUM_VALUE INPUT_OBJECT INPUT_FIELD_DEFINITION }
scalar String
scalar Int
scalar Float
scalar Boolean
scalar ID
directive @skip(if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
directive @include(if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
directive @deprecated(reason: String = "No longer supported") on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | ENUM_VALUE
directive @specifiedBy(url: String!) on SCALAR
directive @oneOf on INPUT_OBJECT
"#;

impl SchemaSize {
    /// The size of the schema whose SDL this is, with the built-in types and directives.
    pub fn from_sdl(sdl: &str) -> SchemaSize {
        let docs = [async_graphql::parser::parse_schema(sdl), async_graphql::parser::parse_schema(BUILT_IN_SDL)];
        let mut size = SchemaSize::default();
        let mut seen: HashSet<String> = HashSet::new();
        let mut implementors: HashMap<String, u64> = HashMap::new();
        let mut interfaces: Vec<String> = Vec::new();
        for doc in &docs {
            let Ok(ServiceDocument { definitions }) = doc else {
                // Not expected (the SDL is the schema's own); priced so that introspection is
                // refused rather than free.
                tracing::warn!("the schema's SDL does not parse; introspection is priced at the limit");
                return SchemaSize { types: MAX_COST, ..SchemaSize::default() };
            };
            for def in definitions {
                match def {
                    TypeSystemDefinition::Type(t) => {
                        let t = &t.node;
                        if !seen.insert(t.name.node.to_string()) {
                            continue;
                        }
                        size.types += 1;
                        match &t.kind {
                            TypeKind::Object(o) => {
                                size.count_fields(&o.fields);
                                size.add_interfaces(o.implements.len() as u64);
                                for i in &o.implements {
                                    *implementors.entry(i.node.to_string()).or_default() += 1;
                                }
                            }
                            TypeKind::Interface(i) => {
                                size.count_fields(&i.fields);
                                size.add_interfaces(i.implements.len() as u64);
                                interfaces.push(t.name.node.to_string());
                            }
                            TypeKind::Union(u) => size.add_possible_types(u.members.len() as u64),
                            TypeKind::Enum(e) => {
                                let n = e.values.len() as u64;
                                size.enum_values += n;
                                size.max_enum_values = size.max_enum_values.max(n);
                            }
                            TypeKind::InputObject(i) => {
                                let n = i.fields.len() as u64;
                                size.input_fields += n;
                                size.max_input_fields = size.max_input_fields.max(n);
                                for f in &i.fields {
                                    size.add_type_ref(&f.node.ty.node);
                                }
                            }
                            TypeKind::Scalar => {}
                        }
                    }
                    TypeSystemDefinition::Directive(d) => {
                        if !seen.insert(format!("@{}", d.node.name.node)) {
                            continue;
                        }
                        let n = d.node.arguments.len() as u64;
                        for a in &d.node.arguments {
                            size.add_type_ref(&a.node.ty.node);
                        }
                        size.directives += 1;
                        size.directive_args += n;
                        size.max_directive_args = size.max_directive_args.max(n);
                    }
                    TypeSystemDefinition::Schema(_) => {}
                }
            }
        }
        // An interface's `possibleTypes` are the objects that implement it.
        for i in interfaces {
            size.add_possible_types(implementors.get(&i).copied().unwrap_or(0));
        }
        size
    }

    fn count_fields(&mut self, fields: &[async_graphql::Positioned<async_graphql::parser::types::FieldDefinition>]) {
        let n = fields.len() as u64;
        self.fields += n;
        self.max_fields = self.max_fields.max(n);
        for f in fields {
            let a = f.node.arguments.len() as u64;
            self.args += a;
            self.max_args = self.max_args.max(a);
            self.add_type_ref(&f.node.ty.node);
            for arg in &f.node.arguments {
                self.add_type_ref(&arg.node.ty.node);
            }
        }
    }

    fn add_interfaces(&mut self, n: u64) {
        self.interfaces += n;
        self.max_interfaces = self.max_interfaces.max(n);
    }

    fn add_possible_types(&mut self, n: u64) {
        self.possible_types += n;
        self.max_possible_types = self.max_possible_types.max(n);
    }

    fn add_type_ref(&mut self, ty: &Type) {
        let levels = (wrapping(ty) as usize).min(MAX_WRAPPING);
        for k in 0..=levels {
            self.type_refs[k] += 1;
        }
    }

    /// The most `ofType` levels a type reference has.
    pub fn wrapping(&self) -> usize {
        self.type_refs.iter().rposition(|&n| n > 0).unwrap_or(0)
    }

    /// Everything the SDL lists: what `_service { sdl }` prints.
    pub fn items(&self) -> u64 {
        self.types
            + self.fields
            + self.args
            + self.input_fields
            + self.enum_values
            + self.directives
            + self.directive_args
    }
}

/// How many non-null `ofType` levels a reference to this type has.
fn wrapping(ty: &Type) -> u64 {
    let non_null = u64::from(!ty.nullable);
    match &ty.base {
        BaseType::Named(_) => non_null,
        BaseType::List(inner) => non_null + 1 + wrapping(inner),
    }
}

/// The extension that applies [`MAX_COST`], refuses `_entities` with more than [`MAX_PAGE`]
/// representations, and records [`ExecutionStarted`].
pub struct Limits {
    pub max_cost: u64,
    /// Computed from the schema at the first request.
    schema: Arc<OnceLock<SchemaSize>>,
}

impl Limits {
    pub fn new(max_cost: u64) -> Limits {
        Limits { max_cost, schema: Arc::default() }
    }
}

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LimitsExtension { max_cost: self.max_cost, schema: self.schema.clone(), refused: Default::default() })
    }
}

/// One extension per request.
struct LimitsExtension {
    max_cost: u64,
    schema: Arc<OnceLock<SchemaSize>>,
    /// The `_entities` fields to refuse, per operation of the document until the operation to
    /// run is known, then that operation's.
    refused: Mutex<Refusals>,
}

#[derive(Default)]
struct Refusals {
    by_operation: Vec<(Option<Name>, u64, Vec<Refusal>)>,
    running: Vec<Refusal>,
    /// The cost of the operation that runs, reported in the answer's `extensions.cost`.
    running_cost: u64,
}

/// A root `_entities` field with more representations than allowed: refused when it would
/// resolve, like `nodes` with too many IDs, and priced at nothing more than its own field.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    /// The alias, or the field name.
    key: String,
    count: u64,
    pos: Pos,
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
        let schema = *self.schema.get_or_init(|| SchemaSize::from_sdl(&ctx.sdl()));
        let graph = ctx.data_opt::<Service>().map(Service::stats).unwrap_or(IndexStats {
            entities: 0,
            relations: 0,
            generation: 0,
        });
        let analysis = analyse(&doc, variables, &CostModel::for_graph(graph, schema));
        if analysis.cost > self.max_cost {
            let mut err = ServerError::new(
                format!(
                    "query is too complex: it costs {}, the limit is {} (a list multiplies the cost of what it selects by its page size, searches cost more on a larger graph, and every alias counts; ask for smaller pages or fewer fields)",
                    analysis.cost, self.max_cost
                ),
                None,
            );
            let mut ext = async_graphql::ErrorExtensionValues::default();
            ext.set("code", code::TOO_COMPLEX);
            ext.set("cost", analysis.cost);
            ext.set("maxCost", self.max_cost);
            err.extensions = Some(ext);
            return Err(err);
        }
        self.refusals().by_operation = analysis.refused;
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
        {
            let mut r = self.refusals();
            let ops = std::mem::take(&mut r.by_operation);
            let chosen = match operation_name {
                Some(name) => ops.into_iter().find(|(n, _, _)| n.as_deref() == Some(name)),
                None if ops.len() == 1 => ops.into_iter().next(),
                None => None,
            };
            let (cost, list) = chosen.map(|(_, cost, list)| (cost, list)).unwrap_or_default();
            r.running = list;
            r.running_cost = cost;
        }
        let mut response = next.run(ctx, operation_name).await;
        let cost = self.refusals().running_cost;
        response.extensions.insert("cost".into(), cost_extension(cost, self.max_cost));
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.name == "_entities" && info.path_node.parent.is_none() {
            let key = info.alias.unwrap_or(info.name);
            let refusal = self.refusals().running.iter().find(|r| r.key == key).cloned();
            if let Some(r) = refusal {
                let message = format!("at most {MAX_PAGE} representations per request (got {})", r.count);
                let mut err = ApiError::bad_input("representations", message).extend().into_server_error(r.pos);
                err.path = vec![PathSegment::Field(r.key)];
                return Err(err);
            }
        }
        next.run(ctx, info).await
    }
}

impl LimitsExtension {
    fn refusals(&self) -> std::sync::MutexGuard<'_, Refusals> {
        self.refused.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the walk finds: the cost of the costliest operation, and each operation's cost and
/// what it refuses.
struct Analysis {
    cost: u64,
    refused: Vec<(Option<Name>, u64, Vec<Refusal>)>,
}

/// The cost of the costliest operation in the document (each with its variables' defaults).
pub fn document_cost(doc: &ExecutableDocument, variables: &Variables, model: &CostModel) -> u64 {
    analyse(doc, variables, model).cost
}

/// The cost of the operation that would run (by name, or the only one), or `None` when no
/// operation matches; what a rate limit charges. The walk is that of [`document_cost`].
pub fn operation_cost(
    doc: &ExecutableDocument,
    operation: Option<&str>,
    variables: &Variables,
    model: &CostModel,
) -> Option<u64> {
    let ops = analyse(doc, variables, model).refused;
    match operation {
        Some(name) => ops.into_iter().find(|(n, _, _)| n.as_deref() == Some(name)),
        None if ops.len() == 1 => ops.into_iter().next(),
        None => None,
    }
    .map(|(_, cost, _)| cost)
}

/// An answer's `extensions.cost`: what its operation cost and the most one may
/// (`{"requested": 1043, "limit": 10000}`), so that a client sees how near the limit it is.
pub fn cost_extension(requested: u64, limit: u64) -> Value {
    let mut cost = async_graphql::indexmap::IndexMap::new();
    cost.insert(Name::new("requested"), Value::from(requested));
    cost.insert(Name::new("limit"), Value::from(limit));
    Value::Object(cost)
}

fn analyse(doc: &ExecutableDocument, variables: &Variables, model: &CostModel) -> Analysis {
    let ops: Vec<(Option<&Name>, &OperationDefinition)> = match &doc.operations {
        DocumentOperations::Single(op) => vec![(None, &op.node)],
        DocumentOperations::Multiple(ops) => ops.iter().map(|(name, op)| (Some(name), &op.node)).collect(),
    };
    let mut analysis = Analysis { cost: 0, refused: Vec::new() };
    for (name, op) in ops {
        let walker = Walker {
            doc,
            variables,
            defaults: op
                .variable_definitions
                .iter()
                .filter_map(|d| d.node.default_value.as_ref().map(|v| (d.node.name.node.clone(), v.node.clone())))
                .collect(),
            model,
            fragments: Default::default(),
            refused: Default::default(),
        };
        // Rounded up; a float past `u64::MAX` (or infinite) saturates.
        let cost = walker.selection_set(&op.selection_set.node, At::Root, 0);
        let cost = if cost.is_nan() { u64::MAX } else { cost.ceil() as u64 };
        analysis.cost = analysis.cost.max(cost);
        analysis.refused.push((name.cloned(), cost, walker.refused.into_inner()));
    }
    analysis
}

/// Where in the answer a selection is: which resolvers its field names mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum At {
    /// The operation's own selection: the searches, look-ups and introspection entry points.
    Root,
    /// Under a data field.
    Data,
    /// Under `__schema`.
    Schema,
    /// A `__Type`: one of `__schema { types }` (`all`: its lists hold the schema's average) or a
    /// single one (they may hold the most any type has); `wraps`: the `ofType` levels above it.
    Type { all: bool, wraps: usize },
    /// A `__Field`.
    Field { all: bool },
    /// A `__Directive`.
    Directive { all: bool },
    /// An `__InputValue` or `__EnumValue`.
    Value,
}

/// The walk adds in floating point, as introspection's lists hold the schema's averages (a
/// type has 4.1 fields); the total is rounded up at the end. Past 2^53 it is only approximate,
/// and far past the limit anyway.
type Cost = f64;

struct Walker<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    /// The operation's variables' default values, for those the request leaves out.
    defaults: HashMap<Name, ConstValue>,
    model: &'a CostModel,
    /// A fragment's cost depends only on where it is spread, so each is computed once per place
    /// (`None` while in progress: a cycle, which validation refuses later, counts as 0). Without
    /// this, fragments that each spread the next twice would cost exponential time to walk.
    fragments: RefCell<HashMap<(Name, At), Option<Cost>>>,
    refused: RefCell<Vec<Refusal>>,
}

/// Inline fragments nest in the document itself; the parser's recursion limit bounds them too.
const MAX_FRAGMENT_NESTING: usize = 64;

impl Walker<'_> {
    fn selection_set(&self, set: &SelectionSet, at: At, nesting: usize) -> Cost {
        if nesting > MAX_FRAGMENT_NESTING {
            return 0.0;
        }
        let mut cost: Cost = 0.0;
        for item in &set.items {
            cost += match &item.node {
                Selection::Field(f) => self.field(&f.node, f.pos, at, nesting),
                Selection::FragmentSpread(s) => self.fragment(&s.node.fragment_name.node, at, nesting),
                Selection::InlineFragment(i) => self.selection_set(&i.node.selection_set.node, at, nesting + 1),
            };
        }
        cost
    }

    fn fragment(&self, name: &Name, at: At, nesting: usize) -> Cost {
        let key = (name.clone(), at);
        if let Some(known) = self.fragments.borrow().get(&key) {
            return known.unwrap_or(0.0);
        }
        let Some(frag) = self.doc.fragments.get(name) else { return 0.0 };
        self.fragments.borrow_mut().insert(key.clone(), None);
        let cost = self.selection_set(&frag.node.selection_set.node, at, nesting + 1);
        self.fragments.borrow_mut().insert(key, Some(cost));
        cost
    }

    /// A field's own price, plus its selection's cost times how often it is selected.
    fn field(&self, f: &Field, pos: Pos, at: At, nesting: usize) -> Cost {
        let name = f.name.node.as_str();
        if name == "__typename" {
            return 1.0;
        }
        let (price, times, under) = match at {
            At::Root => self.root_field(f, pos),
            At::Data => (self.data_field_price(f), self.page(f, list_default(name)) as Cost, At::Data),
            _ => self.introspection_field(name, at),
        };
        if times == 0.0 {
            return price as Cost;
        }
        price as Cost + times * self.selection_set(&f.selection_set.node, under, nesting)
    }

    /// The entry points: what their resolvers do before anything is selected.
    fn root_field(&self, f: &Field, pos: Pos) -> (u64, Cost, At) {
        let m = self.model;
        let name = f.name.node.as_str();
        let page = |default: u64| self.page(f, default) as Cost;
        let default_page = DEFAULT_PAGE as u64;
        match name {
            "__schema" => (1, 1.0, At::Schema),
            "__type" => (1, 1.0, At::Type { all: false, wraps: 0 }),
            "_service" => (m.schema.items(), 1.0, At::Data),
            "shortestPath" => {
                let hops = self.int(f, "maxLength", 6).clamp(1, 8);
                (SHORTEST_PATH_PER_HOP * hops, 1.0, At::Data)
            }
            "paths" => {
                let hops = self.int(f, "maxLength", 4).clamp(1, 8);
                ((PATHS_BASE << hops).min(PATHS_MAX), page(10), At::Data)
            }
            "neighborhood" => {
                let depth = self.int(f, "depth", 1).clamp(1, 3);
                (NEIGHBORHOOD_BY_DEPTH[depth as usize - 1], page(40), At::Data)
            }
            "search" => (m.search, page(default_page), At::Data),
            // Names through the word index cost as `search`; summaries and quotes are read in
            // full, every entity and relation, as a whole-graph timeline reads them.
            "searchResults" => {
                let names_only = match self.arg(f, "in") {
                    Some(ConstValue::List(items)) => items.iter().all(|v| enum_value(v) == Some("NAMES")),
                    Some(ConstValue::Null) | None => true,
                    Some(v) => enum_value(&v) == Some("NAMES"),
                };
                (if names_only { m.search } else { m.timeline }, page(default_page), At::Data)
            }
            // A filtered or sorted page walks an index from its cursor, as a plain page does;
            // by degree or PageRank it may first have to rank the graph, as `ranking` does.
            "entities" => {
                // The field may itself be a variable inside a literal object.
                let field = match f.get_argument("orderBy").map(|v| &v.node) {
                    Some(AstValue::Object(o)) => o.get("field").and_then(|v| self.resolve(v)),
                    Some(_) => match self.arg(f, "orderBy") {
                        Some(ConstValue::Object(o)) => o.get("field").cloned(),
                        _ => None,
                    },
                    None => None,
                };
                let by_rank = matches!(field.as_ref().and_then(enum_value), Some("DEGREE" | "PAGE_RANK"));
                (if by_rank { m.ranking } else { 1 }, page(default_page), At::Data)
            }
            "timeline" => {
                let one = self.arg(f, "entity").is_some_and(|v| !matches!(v, ConstValue::Null));
                (if one { TIMELINE_OF_ENTITY } else { m.timeline }, page(default_page), At::Data)
            }
            "ranking" => (m.ranking, page(default_page), At::Data),
            "connections" => (m.connections, page(default_page), At::Data),
            // Both read every relation (conflicts every entity too), as a whole-graph timeline does.
            "conflicts" | "singleSourced" => (m.timeline, page(default_page), At::Data),
            "nodes" => self.by_id(f, "ids", pos),
            "_entities" => self.by_id(f, "representations", pos),
            other => (1, page(list_default(other)), At::Data),
        }
    }

    /// `nodes` and `_entities`: one look-up per ID, and the selection once per ID. More than
    /// [`MAX_PAGE`] is refused before any look-up, so costs only the field.
    fn by_id(&self, f: &Field, argument: &str, pos: Pos) -> (u64, Cost, At) {
        let n = f.get_argument(argument).and_then(|v| self.list_len(&v.node)).unwrap_or(1);
        if n > MAX_PAGE as u64 {
            if f.name.node == "_entities" {
                let key = f.alias.as_ref().unwrap_or(&f.name).node.to_string();
                self.refused.borrow_mut().push(Refusal { key, count: n, pos });
            }
            return (1, 0.0, At::Data);
        }
        (n.max(1), n as Cost, At::Data)
    }

    /// Introspection: lists are as long as the schema makes them.
    fn introspection_field(&self, name: &str, at: At) -> (u64, Cost, At) {
        let s = &self.model.schema;
        let ratio = |n: u64, of: u64| n as Cost / of.max(1) as Cost;
        // A list of one type's items: the average over all types, or the most one type has.
        let per_type = |all: bool, total: u64, max: u64| if all { ratio(total, s.types) } else { max as Cost };
        let one_type = At::Type { all: false, wraps: 0 };
        match (at, name) {
            (At::Schema, "types") => (1, s.types as Cost, At::Type { all: true, wraps: 0 }),
            (At::Schema, "directives") => (1, s.directives as Cost, At::Directive { all: true }),
            (At::Schema, _) => (1, 1.0, one_type),
            (At::Type { all, .. }, "fields") => (1, per_type(all, s.fields, s.max_fields), At::Field { all }),
            (At::Type { all, .. }, "inputFields") => (1, per_type(all, s.input_fields, s.max_input_fields), At::Value),
            (At::Type { all, .. }, "enumValues") => (1, per_type(all, s.enum_values, s.max_enum_values), At::Value),
            (At::Type { all, .. }, "interfaces") => (1, per_type(all, s.interfaces, s.max_interfaces), one_type),
            (At::Type { all, .. }, "possibleTypes") => {
                (1, per_type(all, s.possible_types, s.max_possible_types), one_type)
            }
            // Of the type references that reach this level, the share that goes one deeper
            // (past the deepest, none: `ofType` is null there).
            (At::Type { wraps, .. }, "ofType") => {
                let (here, deeper) = match (s.type_refs.get(wraps), s.type_refs.get(wraps + 1)) {
                    (Some(&here), Some(&deeper)) => (here, deeper),
                    _ => (1, 0),
                };
                (1, ratio(deeper, here), At::Type { all: false, wraps: wraps + 1 })
            }
            (At::Field { all }, "args") => {
                (1, if all { ratio(s.args, s.fields) } else { s.max_args as Cost }, At::Value)
            }
            (At::Directive { all }, "args") => {
                let times = if all { ratio(s.directive_args, s.directives) } else { s.max_directive_args as Cost };
                (1, times, At::Value)
            }
            (_, "type") => (1, 1.0, one_type),
            _ => (1, 1.0, at),
        }
    }

    /// The price of a field below the entry points: [`data_price`], and for an entity's
    /// `relations` filtered or ordered (`where`, `orderBy`, given and not null), the price of
    /// testing and keying every relation of the entity.
    fn data_field_price(&self, f: &Field) -> u64 {
        let name = f.name.node.as_str();
        // Read as written, not resolved whole: an object holding a variable does not resolve to
        // a constant, and must not pass for an absent argument.
        let given = |arg: &str| match f.get_argument(arg).map(|v| &v.node) {
            None | Some(AstValue::Null) => false,
            Some(AstValue::Variable(v)) => self.variable(v).is_some_and(|v| !matches!(v, ConstValue::Null)),
            Some(_) => true,
        };
        if name == "relations" && (given("where") || given("orderBy")) {
            return self.model.relations_sorted;
        }
        data_price(name, self.model)
    }

    /// A page size: `first` (or `limit`) when given, else the resolver's default.
    fn page(&self, f: &Field, default: u64) -> u64 {
        match self.arg(f, "first").or_else(|| self.arg(f, "limit")) {
            Some(ConstValue::Number(n)) => n.as_u64().unwrap_or(default).max(1),
            _ => default,
        }
    }

    /// An integer argument, or its default.
    fn int(&self, f: &Field, name: &str, default: u64) -> u64 {
        match self.arg(f, name) {
            Some(ConstValue::Number(n)) => n.as_i64().map_or(default, |n| n.max(0) as u64),
            _ => default,
        }
    }

    /// An argument's value with the variables (or their defaults) in it; `None` when absent.
    fn arg(&self, f: &Field, name: &str) -> Option<ConstValue> {
        f.get_argument(name).and_then(|v| self.resolve(&v.node))
    }

    fn resolve(&self, v: &AstValue) -> Option<ConstValue> {
        match v {
            AstValue::Variable(name) => self.variable(name).cloned(),
            other => other.clone().into_const(),
        }
    }

    fn variable(&self, name: &Name) -> Option<&ConstValue> {
        self.variables.get(name).or_else(|| self.defaults.get(name))
    }

    /// How many items a list argument holds (a single value is a list of one).
    fn list_len(&self, v: &AstValue) -> Option<u64> {
        let n = match v {
            AstValue::List(items) => items.len(),
            AstValue::Variable(name) => match self.variable(name)? {
                ConstValue::List(items) => items.len(),
                ConstValue::Null => 0,
                _ => 1,
            },
            AstValue::Null => 0,
            _ => 1,
        };
        Some(n as u64)
    }
}

/// An enum value as the document spells it, or as a variable's JSON does (a string).
fn enum_value(v: &ConstValue) -> Option<&str> {
    match v {
        ConstValue::Enum(e) => Some(e.as_str()),
        ConstValue::String(s) => Some(s.as_str()),
        _ => None,
    }
}

/// The price of a field below the entry points: 1, except where its resolver does more.
fn data_price(field: &str, model: &CostModel) -> u64 {
    match field {
        // `Document.passages` reads every relation and entity, as a whole-graph timeline does.
        "passages" => model.timeline,
        // A whole document's text in the answer (the curated ones are 3–6 KB; one may be MBs).
        "text" => DOCUMENT_TEXT,
        // A located quote: a memo look-up, or one search of its document the first time.
        // (`Citation.length` locates it too, but the walk has no types and `length` is also a
        // path's plain number; after `offset` or alone, the memo makes it a look-up.)
        "offset" | "context" => LOCATED_QUOTE,
        _ => 1,
    }
}

/// The page size of a list field with a `first` that is left out.
fn list_default(field: &str) -> u64 {
    match field {
        "relations" | "entities" | "changes" | "history" => DEFAULT_PAGE as u64,
        // An entity's own facts: a few, but up to 100 aliases and 50 numbers.
        "facts" => DEFAULT_PAGE as u64,
        "passages" => DEFAULT_PAGE as u64,
        _ => 1,
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    /// GraphiQL's introspection query.
    pub const INTROSPECTION: &str = include_str!("../../tests/fixtures/introspection.graphql");

    fn schema() -> SchemaSize {
        SchemaSize::from_sdl(&crate::api::sdl())
    }

    fn graph(entities: u64, relations: u64) -> CostModel {
        CostModel::for_graph(IndexStats { entities, relations, generation: 1 }, schema())
    }

    /// About the size of the test fixture.
    fn small() -> CostModel {
        graph(11, 10)
    }

    fn cost_with(q: &str, vars: serde_json::Value, model: &CostModel) -> u64 {
        document_cost(&async_graphql::parser::parse_query(q).unwrap(), &Variables::from_json(vars), model)
    }

    fn cost(q: &str) -> u64 {
        cost_with(q, serde_json::json!({}), &small())
    }

    fn aliases(n: usize, field: &str) -> String {
        let mut q = String::from("{");
        for i in 0..n {
            q.push_str(&format!(" a{i}: {field}"));
        }
        q.push('}');
        q
    }

    #[test]
    fn first_multiplies_what_the_list_selects() {
        assert_eq!(cost("{ a }"), 1);
        assert_eq!(cost("{ e { relations(first: 10) { x } } }"), 1 + (1 + 10));
        assert_eq!(cost("{ e { relations(first: 10) { x y } } }"), 1 + (1 + 20));
        // The default page counts when `first` is absent, for `history` too.
        assert_eq!(cost("{ e { relations { x } } }"), 1 + (1 + DEFAULT_PAGE as u64));
        assert_eq!(cost("{ e { history { seq } } }"), 1 + (1 + DEFAULT_PAGE as u64));
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
    fn sorted_and_filtered_pages_and_search_results_are_priced() {
        let m = graph(1_000_000, 5_000_000);
        let c = |q: &str| cost_with(q, serde_json::json!({}), &m);
        let plain = c("{ entities(first: 10) { edges { node { slug } } } }");
        assert_eq!(plain, 1 + 10 * 3, "the field, then each edge, its node and slug");
        // A filter or an order by name or date costs like a plain page.
        assert_eq!(
            c(
                r#"{ entities(first: 10, where: { namePrefix: "ka", dateFrom: "2000" }, orderBy: { field: NAME, direction: DESC }) { edges { node { slug } } } }"#
            ),
            plain
        );
        // By degree or PageRank it may rank the whole graph first.
        let ranked = c("{ entities(first: 10, orderBy: { field: PAGE_RANK }) { edges { node { slug } } } }");
        assert_eq!(ranked, m.ranking + 10 * 3);
        let v = cost_with(
            "query($o: EntityOrder) { entities(first: 10, orderBy: $o) { edges { node { slug } } } }",
            serde_json::json!({ "o": { "field": "DEGREE" } }),
            &m,
        );
        assert_eq!(v, ranked, "an order in a variable is read");
        let v = cost_with(
            "query($f: EntityOrderField!) { entities(first: 10, orderBy: { field: $f }) { edges { node { slug } } } }",
            serde_json::json!({ "f": "PAGE_RANK" }),
            &m,
        );
        assert_eq!(v, ranked, "so is a field in a variable inside the order");
        // Names through the index cost as `search`; summaries or quotes by the graph's size.
        let names = c(r#"{ searchResults(query: "ka", first: 5) { edges { node { score } } } }"#);
        assert_eq!(names, m.search + 5 * 3);
        let summaries =
            c(r#"{ searchResults(query: "ka", in: [NAMES, SUMMARIES], first: 5) { edges { node { score } } } }"#);
        assert_eq!(summaries, m.timeline + 5 * 3);
        assert!(summaries > names);
        assert_eq!(
            c(r#"{ searchResults(query: "ka", in: QUOTES, first: 5) { edges { node { score } } } }"#),
            summaries
        );
    }

    #[test]
    fn variables_are_resolved() {
        let q = "query($n: Int) { search(query: \"x\", first: $n) { name } }";
        let m = small();
        assert_eq!(cost_with(q, serde_json::json!({ "n": 7 }), &m), m.search + 7);
    }

    #[test]
    fn an_omitted_variable_takes_its_default() {
        let q = "query($n: Int = 100) { entity(slug: \"x\") { relations(first: $n) { edges { node { kind } } } } }";
        let explicit = cost("{ entity(slug: \"x\") { relations(first: 100) { edges { node { kind } } } } }");
        let m = small();
        assert_eq!(cost_with(q, serde_json::json!({}), &m), explicit);
        assert_eq!(cost_with(q, serde_json::json!({ "n": 100 }), &m), explicit);
        // A value sent wins over the default, null included (null means the resolver's default).
        let small_page = cost("{ entity(slug: \"x\") { relations(first: 2) { edges { node { kind } } } } }");
        assert_eq!(cost_with(q, serde_json::json!({ "n": 2 }), &m), small_page);
        let default_page = cost("{ entity(slug: \"x\") { relations { edges { node { kind } } } } }");
        assert_eq!(cost_with(q, serde_json::json!({ "n": null }), &m), default_page);
        // Each operation has its own defaults; the costliest counts.
        let two = "query A($n: Int = 1) { entities(first: $n) { totalCount } } query B($n: Int = 100) { entities(first: $n) { edges { node { relations(first: $n) { totalCount } } } } }";
        assert!(cost_with(two, serde_json::json!({}), &m) > MAX_COST);
    }

    #[test]
    fn every_alias_pays_for_its_search() {
        let m = small();
        let one = cost(r#"{ search(query: "a", first: 1) { name } }"#);
        assert_eq!(one, m.search + 1);
        assert_eq!(cost(&aliases(10, r#"search(query: "a", first: 1) { name }"#)), 10 * one);
        assert!(cost(&aliases(1_000, r#"search(query: "a", first: 1) { name }"#)) > MAX_COST);
        assert!(cost(&aliases(1_000, "timeline(first: 1) { totalCount }")) > MAX_COST);
        // An entity's timeline reads its relations only: cheaper than the whole graph's on a
        // large graph.
        let big = graph(19_000, 60_000);
        let whole = cost_with("{ timeline(first: 1) { totalCount } }", serde_json::json!({}), &big);
        let one = cost_with(r#"{ timeline(entity: "iom", first: 1) { totalCount } }"#, serde_json::json!({}), &big);
        assert!(one < whole, "{one} < {whole}");
    }

    #[test]
    fn located_quotes_texts_facts_and_conflicts_are_priced() {
        let base = cost(r#"{ entity(slug: "d") { ... on Document { file } } }"#);
        assert_eq!(cost(r#"{ entity(slug: "d") { ... on Document { text } } }"#), base - 1 + DOCUMENT_TEXT);
        let citation = |fields: &str| cost(&format!(r#"{{ relation(key: "k") {{ citations {{ {fields} }} }} }}"#));
        assert_eq!(citation("offset") - citation("quote"), LOCATED_QUOTE - 1);
        assert_eq!(citation("context { before }") - citation("quote"), LOCATED_QUOTE);
        // A list of facts is paid 20 times; the whole-graph searches by the graph's size.
        let facts = cost(r#"{ entity(slug: "d") { facts { value } } }"#);
        assert_eq!(facts - base, 20, "the field, and its one selected field 20 times, less `file`");
        let (small, huge) = (graph(11, 10), graph(1_000_000, 5_000_000));
        for q in [r#"{ conflicts { description } }"#, r#"{ singleSourced { totalCount } }"#] {
            let (a, b) = (cost_with(q, serde_json::json!({}), &small), cost_with(q, serde_json::json!({}), &huge));
            assert!(a < b && b <= MAX_COST, "{q}: {a} {b}");
        }
    }

    #[test]
    fn searches_cost_more_on_a_larger_graph() {
        let q = r#"{ search(query: "a", first: 1) { name } ranking(first: 1) { rank } timeline(first: 1) { totalCount } connections(a: "x", b: "y") { entity { name } } }"#;
        let (small, big, huge) = (graph(11, 10), graph(19_000, 60_000), graph(1_000_000, 5_000_000));
        let c = |m: &CostModel| cost_with(q, serde_json::json!({}), m);
        assert!(c(&small) < c(&big) && c(&big) < c(&huge), "{} {} {}", c(&small), c(&big), c(&huge));
        // Even on the largest graph, each fits in a request: the prices are capped.
        for one in [
            r#"{ search(query: "a", first: 100) { name } }"#,
            "{ ranking(first: 100) { rank entity { name } } }",
            "{ timeline(first: 100) { edges { node { date kind entity { name } relation { kind } } } } }",
            r#"{ connections(a: "x", b: "y", first: 100) { entity { name } } }"#,
        ] {
            let c = cost_with(one, serde_json::json!({}), &huge);
            assert!(c <= MAX_COST, "{one}: {c}");
        }
        // 50 searches on 19,000 entities pass; 100 do not.
        let search = r#"search(query: "a", first: 1) { name }"#;
        assert!(cost_with(&aliases(50, search), serde_json::json!({}), &big) <= MAX_COST);
        assert!(cost_with(&aliases(100, search), serde_json::json!({}), &big) > MAX_COST);
    }

    #[test]
    fn path_searches_cost_by_their_length() {
        let paths =
            |len: u64| cost(&format!(r#"{{ paths(from: "a", to: "b", maxLength: {len}, first: 1) {{ truncated }} }}"#));
        assert!(paths(2) < paths(4) && paths(4) < paths(6) && paths(6) < paths(8));
        assert_eq!(paths(8), PATHS_MAX + 1);
        // Two searches of length 8 are already too much.
        let two =
            aliases(2, r#"paths(from: "a", to: "b", maxLength: 8, first: 1, includeProvenance: true) { truncated }"#);
        assert!(cost(&two) > MAX_COST);
        // The defaults: maxLength 4, 10 paths.
        assert_eq!(cost(r#"{ paths(from: "a", to: "b") { truncated } }"#), (PATHS_BASE << 4) + 10);
        let sp = |len: u64| cost(&format!(r#"{{ shortestPath(from: "a", to: "b", maxLength: {len}) {{ length }} }}"#));
        assert_eq!(sp(8), SHORTEST_PATH_PER_HOP * 8 + 1);
        assert_eq!(cost(r#"{ shortestPath(from: "a", to: "b") { length } }"#), SHORTEST_PATH_PER_HOP * 6 + 1);
        // A field of the answer that shares a search's name is not a search.
        let nested = cost(r#"{ paths(from: "a", to: "b", maxLength: 1, first: 1) { paths { length } } }"#);
        assert_eq!(nested, (PATHS_BASE << 1) + 1 + 1);
    }

    #[test]
    fn filtered_or_ordered_relations_cost_by_the_graph_size() {
        let (small, huge) = (graph(11, 10), graph(1_000_000, 5_000_000));
        let c = |q: &str, m: &CostModel| cost_with(q, serde_json::json!({}), m);
        let plain = r#"{ entity(slug: "x") { relations(first: 10) { totalCount } } }"#;
        let sorted = r#"{ entity(slug: "x") { relations(first: 10, orderBy: { field: TITLE }) { totalCount } } }"#;
        let filtered =
            r#"{ entity(slug: "x") { relations(first: 10, where: { validAt: "2025-03-01" }) { totalCount } } }"#;
        assert_eq!(c(sorted, &small) - c(plain, &small), small.relations_sorted - 1);
        assert_eq!(c(filtered, &small), c(sorted, &small));
        assert!(c(sorted, &small) < c(sorted, &huge));
        // A null `where` or `orderBy` (a variable left out) is the plain page.
        let nulls = r#"query($w: RelationFilter) { entity(slug: "x") { relations(first: 10, where: $w, orderBy: null) { totalCount } } }"#;
        assert_eq!(c(nulls, &small), c(plain, &small));
        let inner = r#"query($d: String) { entity(slug: "x") { relations(first: 10, where: { validAt: $d }) { totalCount } } }"#;
        assert_eq!(c(inner, &small), c(sorted, &small));
        // One entity's 100 relations sorted and filtered, with both ends and citations, passes at
        // 1M entities; the same for 100 entities is refused.
        let page = r#"relations(first: 100, where: { validAt: "2025", kinds: [HOLDS_ROLE] }, orderBy: { field: DATE, direction: DESC }) { edges { node { kind title from { name } to { name } citations { quote document { title } } } } }"#;
        let one = c(&format!(r#"{{ entity(slug: "x") {{ {page} }} }}"#), &huge);
        assert!(one <= MAX_COST, "{one}");
        let many = c(&format!("{{ entities(first: 100) {{ edges {{ node {{ {page} }} }} }} }}"), &huge);
        assert!(many > MAX_COST, "{many}");
        // Dates on the explorations do not change their prices: the test rides on the kind's.
        let sp = r#"{ shortestPath(from: "a", to: "b") { length } }"#;
        let dated = r#"{ shortestPath(from: "a", to: "b", validAt: "2025-03-01", strict: true) { length } }"#;
        assert_eq!(c(sp, &small), c(dated, &small));
    }

    #[test]
    fn neighbourhoods_cost_by_depth_and_limit() {
        let n = |depth: u64, limit: u64| {
            cost(&format!(r#"{{ neighborhood(slug: "a", depth: {depth}, limit: {limit}) {{ nodes {{ depth }} }} }}"#))
        };
        assert!(n(1, 40) < n(2, 40) && n(2, 40) < n(3, 40));
        assert!(n(1, 10) < n(1, 100));
        assert_eq!(n(2, 10), NEIGHBORHOOD_BY_DEPTH[1] + 10 * 2);
        // The defaults: depth 1, 40 entities.
        assert_eq!(cost(r#"{ neighborhood(slug: "a") { nodes { depth } } }"#), NEIGHBORHOOD_BY_DEPTH[0] + 40 * 2);
    }

    #[test]
    fn look_ups_by_id_cost_one_per_id() {
        let ids = |n: usize| (0..n).map(|i| format!("\"Person:p{i}\"")).collect::<Vec<_>>().join(",");
        assert_eq!(cost(&format!("{{ nodes(ids: [{}]) {{ id }} }}", ids(10))), 10 + 10);
        let reps = |n: usize| {
            (0..n).map(|i| format!("{{ __typename: \"Person\", id: \"Person:p{i}\" }}")).collect::<Vec<_>>().join(",")
        };
        let q = |n: usize| {
            format!(
                "{{ _entities(representations: [{}]) {{ ... on Person {{ relations(first: 20) {{ totalCount }} }} }} }}",
                reps(n)
            )
        };
        assert_eq!(cost(&q(10)), 10 + 10 * (1 + 20));
        assert!(cost(&q(100)) < MAX_COST);
        // Through a variable, the same.
        let list: Vec<_> =
            (0..10).map(|i| serde_json::json!({ "__typename": "Person", "id": format!("Person:p{i}") })).collect();
        let v = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Person { relations(first: 20) { totalCount } } } }";
        assert_eq!(cost_with(v, serde_json::json!({ "r": list }), &small()), 10 + 10 * (1 + 20));
    }

    #[test]
    fn too_many_representations_are_recorded_for_refusal() {
        let list: Vec<_> =
            (0..4_000).map(|_| serde_json::json!({ "__typename": "Organization", "id": "Organization:exo" })).collect();
        let q = "query($r: [_Any!]!) { many: _entities(representations: $r) { ... on Organization { relations(first: 20) { totalCount } } } few: _entities(representations: []) { __typename } }";
        let doc = async_graphql::parser::parse_query(q).unwrap();
        let a = analyse(&doc, &Variables::from_json(serde_json::json!({ "r": list })), &small());
        // Not multiplied: it will be refused before any look-up.
        assert!(a.cost < 10, "{}", a.cost);
        assert_eq!(a.refused.len(), 1);
        let refused = &a.refused[0].2;
        assert_eq!(refused.iter().map(|r| (r.key.as_str(), r.count)).collect::<Vec<_>>(), [("many", 4_000)]);
    }

    #[test]
    fn graphiql_introspection_passes_and_copies_of_it_do_not() {
        let one = cost(INTROSPECTION);
        assert!(one < MAX_COST, "GraphiQL's introspection query costs {one}");
        // Priced by the schema: far more than the fields it names.
        assert!(one > 2_000, "{one}");
        let mut two =
            INTROSPECTION.replacen("types { ...FullType }", "types { ...FullType } again: types { ...FullType }", 1);
        assert!(cost(&two) > MAX_COST, "{}", cost(&two));
        two.clear();
        let schema_lists = "__schema { types { name kind fields { name args { name type { name } } } } }";
        assert!(cost(&aliases(580, schema_lists)) > MAX_COST);
        assert!(cost(&aliases(10, schema_lists)) > MAX_COST);
        // A small look is cheap.
        assert!(cost("{ __schema { queryType { name } } }") < 10);
        assert!(cost(r#"{ __type(name: "Person") { name fields { name } } }"#) < 200);
        assert_eq!(cost("{ _service { sdl } }"), schema().items() + 1);
    }

    #[test]
    fn the_schema_size_is_what_introspection_lists() {
        let schema = crate::api::build_schema(None);
        let resp =
            tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(schema.execute(INTROSPECTION));
        assert!(resp.errors.is_empty(), "{:?}", resp.errors);
        let data = resp.data.into_json().unwrap();
        let types = data["__schema"]["types"].as_array().unwrap();
        let len = |v: &serde_json::Value| v.as_array().map_or(0, |a| a.len() as u64);
        let total = |f: &dyn Fn(&serde_json::Value) -> u64| types.iter().map(f).sum::<u64>();
        let most = |f: &dyn Fn(&serde_json::Value) -> u64| types.iter().map(f).max().unwrap_or(0);
        let args =
            |t: &serde_json::Value| t["fields"].as_array().map_or(0, |fs| fs.iter().map(|f| len(&f["args"])).sum());
        let size = schema_size_of(&schema);
        // What the model counts covers what introspection lists, and not by much more.
        let close = |model: u64, live: u64, what: &str| {
            assert!(model >= live && model <= live + live / 10 + 5, "{what}: model {model}, introspection {live}");
        };
        close(size.types, types.len() as u64, "types");
        close(size.fields, total(&|t| len(&t["fields"])), "fields");
        close(size.max_fields, most(&|t| len(&t["fields"])), "most fields");
        close(size.args, total(&args), "arguments");
        close(size.input_fields, total(&|t| len(&t["inputFields"])), "input fields");
        close(size.enum_values, total(&|t| len(&t["enumValues"])), "enum values");
        close(size.interfaces, total(&|t| len(&t["interfaces"])), "interfaces");
        close(size.possible_types, total(&|t| len(&t["possibleTypes"])), "possible types");
        let directives = data["__schema"]["directives"].as_array().unwrap();
        close(size.directives, directives.len() as u64, "directives");
        close(size.directive_args, directives.iter().map(|d| len(&d["args"])).sum(), "directive arguments");
        assert_eq!(size.wrapping(), 3, "`[X!]!` is the deepest type reference");
        // Every field, argument and input field is a type reference.
        assert_eq!(size.type_refs[0], size.fields + size.args + size.input_fields + size.directive_args);
    }

    fn schema_size_of(schema: &crate::api::PolicySchema) -> SchemaSize {
        SchemaSize::from_sdl(&schema.sdl())
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
