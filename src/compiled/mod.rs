//! The compiled read path: the queries that carry the traffic, answered by walking the index and
//! writing the JSON answer directly, without async-graphql's execution (a future per field, a
//! `Value` map per object, then serialization: about two thirds of a new request's time).
//!
//! async-graphql stays the schema, the validator, the limits and the executor of everything else.
//! A document is compiled into a [`Plan`] once, after async-graphql has run it once and got past
//! validation (so a plan only ever exists for a valid document), and the plan is kept with the
//! parsed document in the document cache. A plan covers a document only when every field it
//! selects is one this module knows (see [`compile`]); otherwise there is no plan and every
//! request of that document runs as before.
//!
//! **Invariant: a plan's answer is byte for byte async-graphql's.** To keep that true by
//! construction rather than by care:
//! - the data comes from the functions the resolvers use (`api::query::plain_entities`,
//!   `api::relations::plain_page`, `api::types::type_name`, the enums' own GraphQL names), not
//!   from copies of their logic;
//! - a plan answers only what has no error: any argument or variable that async-graphql would
//!   refuse or that this module does not read exactly as async-graphql does, an entity not
//!   found, a cursor that does not decode, a cost over the limit, makes [`Plan::run`] give up
//!   (`None`) and the request runs through async-graphql, which answers it with its errors;
//! - arguments are read as async-graphql reads them: an input object (`relations(where:,
//!   orderBy:)`) by its own `InputType::parse`, after the checks validation makes and the parse
//!   does not (a field the type lacks, a null in a non-null field); and since validation checks
//!   every argument and variable with the values sent before anything runs, so does a plan,
//!   including those of fields it will not reach; a variable not sent and without a default is
//!   null, as async-graphql has it;
//! - the differential tests (`tests/compiled.rs`) run every query of the test suite, the README
//!   and the GraphiQL examples, and generated selections, through both paths and compare bytes.
//!
//! Fields are collected as async-graphql collects them: in document order, fragments whose type
//! condition holds for the object inlined where they stand, `@skip`/`@include` applied, and
//! fields with the same response key merged into the first one's place, their selections
//! concatenated (async-graphql resolves each and deep-merges the results; the resolvers here
//! are pure over one view of the graph, so resolving once with the merged selection is the same).

mod write;

use std::collections::HashMap;

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, Field, OperationType, Selection, SelectionSet, Type,
};
use async_graphql::{Name, Positioned};
use async_graphql_value::{ConstValue, Value};

use crate::domain::EntityKind;

pub use write::{run, Ran, Request};

/// How deeply fragment spreads may nest while a plan is compiled (a valid document has no
/// cycles; this only bounds the work of one with very deep spreads).
const MAX_SPREAD_DEPTH: usize = 32;

/// The most selections a plan may hold once its fragments are spread where they stand: a
/// fragment spread twice in a fragment spread twice… grows exponentially. The cost limit already
/// refuses such a document before it runs (every selection costs), so this only bounds the
/// compiler's own work should that ever change.
const MAX_ITEMS: usize = 20_000;

/// A compiled read-only document: its variables and its root selection.
#[derive(Debug)]
pub struct Plan {
    /// The operation's name, which a request may name (any other name is async-graphql's error).
    name: Option<Name>,
    variables: Vec<Variable>,
    root: Vec<Item>,
    /// Whether it reads the documents' texts (a citation's `offset` or `length`).
    needs_texts: bool,
    /// The input object literals written with variables among their fields, and their types:
    /// async-graphql validates each with the request's variables before it runs anything,
    /// wherever it stands (see `write::coerce`).
    inputs: Vec<(Scalar, Value)>,
}

impl Plan {
    /// Whether a run needs the documents' texts ([`Request::texts`]).
    pub fn needs_texts(&self) -> bool {
        self.needs_texts
    }
}

/// A declared variable: its name, its type as this module reads it, and its default.
#[derive(Debug)]
struct Variable {
    name: Name,
    ty: Scalar,
    /// A list of non-null `ty` (`[ID!]`), not a `ty`.
    list: bool,
    nullable: bool,
    default: Option<ConstValue>,
    /// Used where a value may not be null (`if:`, `slug:`, `direction:`): validation refuses
    /// a null sent for it, even where the document does not run it.
    required: bool,
}

/// The input types a plan reads: each coerced exactly as async-graphql does, or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    String,
    Id,
    Int,
    Boolean,
    Direction,
    EntityKind,
    RelationKind,
    OrderDirection,
    RelationOrderField,
    /// The input objects of `relations(where:, orderBy:)`: checked, field by field, where they
    /// are read (`write::input_object`), as a literal of the same type is.
    RelationFilter,
    RelationOrder,
}

/// An argument as written: a constant, a variable's value at run time, or an input object
/// written with variables among its fields (`where: { validAt: $d }`), made whole at run time.
#[derive(Debug, Clone)]
enum Arg {
    Const(ConstValue),
    Var(Name),
    Input(Value),
}

/// `@skip(if:)` and `@include(if:)` of a selection.
#[derive(Debug, Clone, Default)]
struct Conditions {
    skip: Option<Arg>,
    include: Option<Arg>,
}

/// One selection: a field under its response key, or a fragment's selections under its type
/// condition (`None`: the enclosing type).
#[derive(Debug)]
enum Item {
    Field { key: Name, when: Conditions, field: Box<FieldPlan> },
    Fragment { on: Option<Name>, when: Conditions, items: Vec<Item> },
}

/// The fields a plan answers, by the type they are selected on.
#[derive(Debug)]
enum FieldPlan {
    Typename,
    // Query
    Entity {
        slug: Arg,
        items: Vec<Item>,
    },
    Node {
        id: Arg,
        items: Vec<Item>,
    },
    Nodes {
        ids: Arg,
        items: Vec<Item>,
    },
    Entities {
        kind: Option<Arg>,
        first: Option<Arg>,
        after: Option<Arg>,
        items: Vec<Item>,
    },
    Search {
        query: Arg,
        first: Option<Arg>,
        items: Vec<Item>,
    },
    // Entity (every kind) and Document's own
    EntityId,
    Slug,
    Name,
    Kind,
    Subtype,
    Aliases,
    Summary,
    Date,
    EndDate,
    Url,
    Version,
    Relations {
        args: Box<RelationArgs>,
        items: Vec<Item>,
    },
    DocumentTitle,
    PublishedOn,
    File,
    // Relation
    RelationId,
    Key,
    RelationKind,
    From(Vec<Item>),
    To(Vec<Item>),
    Title,
    Order,
    ValidFrom,
    ValidUntil,
    Citations(Vec<Item>),
    SourceCount,
    RelationVersion,
    // Citation
    CitedDocument(Vec<Item>),
    Quote,
    /// Where the quote is in the document's text (characters), and its length.
    Offset,
    Length,
    /// The quote with the text around it (`chars`: not given, the field's default).
    Context {
        chars: Option<Arg>,
        items: Vec<Item>,
    },
    // QuoteContext (and `Quote`, as on a citation)
    Before,
    After,
    // RelationConnection, EntityConnection
    Edges(Vec<Item>),
    PageInfo(Vec<Item>),
    TotalCount,
    // RelationEdge, EntityEdge
    Cursor,
    EdgeNode(Vec<Item>),
    // PageInfo
    HasNextPage,
    HasPreviousPage,
    StartCursor,
    EndCursor,
}

/// The arguments of `relations`, apart (the largest of the fields a plan holds).
#[derive(Debug)]
struct RelationArgs {
    direction: Option<Arg>,
    kinds: Option<Arg>,
    filter: Option<Arg>,
    order: Option<Arg>,
    first: Option<Arg>,
    after: Option<Arg>,
}

/// The type a selection set is written against, as the document says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Static {
    Query,
    /// The `Entity` interface.
    Entity,
    /// The `Node` interface.
    Node,
    /// One entity type.
    Kind(EntityKind),
    Relation,
    Citation,
    QuoteContext,
    RelationConnection,
    RelationEdge,
    EntityConnection,
    EntityEdge,
    PageInfo,
}

impl Static {
    /// The type a fragment's condition names, seen from this one; `None`: a type this module
    /// does not answer.
    fn narrowed(self, name: &str) -> Option<Static> {
        let named = match name {
            "Entity" => Static::Entity,
            "Node" => Static::Node,
            "Relation" => Static::Relation,
            "Citation" => Static::Citation,
            "QuoteContext" => Static::QuoteContext,
            "RelationConnection" => Static::RelationConnection,
            "RelationEdge" => Static::RelationEdge,
            "EntityConnection" => Static::EntityConnection,
            "EntityEdge" => Static::EntityEdge,
            "PageInfo" => Static::PageInfo,
            "Query" => Static::Query,
            other => Static::Kind(*EntityKind::ALL.iter().find(|k| crate::api::types::type_name(**k) == other)?),
        };
        // Within a concrete type, a fragment on one of its interfaces selects the concrete type's
        // own fields; within an interface, a fragment on a concrete type narrows it.
        Some(match (self, named) {
            (Static::Kind(k), Static::Entity | Static::Node) => Static::Kind(k),
            (Static::Relation, Static::Node) => Static::Relation,
            (Static::Entity, Static::Node) => Static::Entity,
            (_, n) => n,
        })
    }
}

/// Compiles a document that async-graphql has validated; `None` when any part of it is not
/// covered (then the document always runs through async-graphql). Only documents with one
/// operation, a query, are compiled.
pub fn compile(doc: &ExecutableDocument) -> Option<Plan> {
    // A named operation is parsed into a map of one.
    let (name, op) = match &doc.operations {
        DocumentOperations::Single(op) => (None, &op.node),
        DocumentOperations::Multiple(ops) if ops.len() == 1 => {
            let (name, op) = ops.iter().next()?;
            (Some(name.clone()), &op.node)
        }
        DocumentOperations::Multiple(_) => return None,
    };
    if op.ty != OperationType::Query || !op.directives.is_empty() {
        return None;
    }
    let mut variables = Vec::with_capacity(op.variable_definitions.len());
    for v in &op.variable_definitions {
        let v = &v.node;
        if !v.directives.is_empty() {
            return None;
        }
        let (ty, list, nullable) = scalar_of(&v.var_type.node)?;
        variables.push(Variable {
            name: v.name.node.clone(),
            ty,
            list,
            nullable,
            default: v.default_value.as_ref().map(|d| d.node.clone()),
            required: false,
        });
    }
    let compiler = Compiler {
        doc,
        variables: &variables,
        items: std::cell::Cell::new(0),
        needs_texts: std::cell::Cell::new(false),
        required: Default::default(),
        inputs: Default::default(),
    };
    let root = compiler.selection_set(&op.selection_set.node, Static::Query, 0)?;
    let needs_texts = compiler.needs_texts.get();
    let (required, inputs) = (compiler.required.into_inner(), compiler.inputs.into_inner());
    for v in &mut variables {
        v.required = required.contains(&v.name);
    }
    Some(Plan { name, variables, root, needs_texts, inputs })
}

/// The variable's scalar, whether it is a list of them, and whether it may be null. A list's
/// items must be non-null.
fn scalar_of(ty: &Type) -> Option<(Scalar, bool, bool)> {
    let (name, list) = match &ty.base {
        BaseType::Named(name) => (name, false),
        BaseType::List(item) => match &item.base {
            BaseType::Named(name) if !item.nullable => (name, true),
            _ => return None,
        },
    };
    let scalar = match name.as_str() {
        "String" => Scalar::String,
        "ID" => Scalar::Id,
        "Int" => Scalar::Int,
        "Boolean" => Scalar::Boolean,
        "Direction" => Scalar::Direction,
        "EntityKind" => Scalar::EntityKind,
        "RelationKind" => Scalar::RelationKind,
        "OrderDirection" => Scalar::OrderDirection,
        "RelationOrderField" => Scalar::RelationOrderField,
        "RelationFilter" if !list => Scalar::RelationFilter,
        "RelationOrder" if !list => Scalar::RelationOrder,
        _ => return None,
    };
    Some((scalar, list, ty.nullable))
}

struct Compiler<'d> {
    doc: &'d ExecutableDocument,
    variables: &'d [Variable],
    items: std::cell::Cell<usize>,
    needs_texts: std::cell::Cell<bool>,
    /// The variables used where a value may not be null ([`Variable::required`]).
    required: std::cell::RefCell<Vec<Name>>,
    inputs: std::cell::RefCell<Vec<(Scalar, Value)>>,
}

impl Compiler<'_> {
    fn selection_set(&self, set: &SelectionSet, on: Static, depth: usize) -> Option<Vec<Item>> {
        self.items.set(self.items.get() + set.items.len());
        if depth > MAX_SPREAD_DEPTH || self.items.get() > MAX_ITEMS {
            return None;
        }
        let mut items = Vec::with_capacity(set.items.len());
        for selection in &set.items {
            match &selection.node {
                Selection::Field(f) => {
                    let f = &f.node;
                    let when = self.conditions(&f.directives)?;
                    let key = f.alias.as_ref().map(|a| a.node.clone()).unwrap_or_else(|| f.name.node.clone());
                    let field = self.field(f, on, depth)?;
                    items.push(Item::Field { key, when, field: Box::new(field) });
                }
                Selection::InlineFragment(frag) => {
                    let frag = &frag.node;
                    let when = self.conditions(&frag.directives)?;
                    let (cond, inner) = match &frag.type_condition {
                        Some(tc) => {
                            let name = tc.node.on.node.clone();
                            let inner = on.narrowed(&name)?;
                            (Some(name), inner)
                        }
                        None => (None, on),
                    };
                    let items_in = self.selection_set(&frag.selection_set.node, inner, depth + 1)?;
                    items.push(Item::Fragment { on: cond, when, items: items_in });
                }
                Selection::FragmentSpread(spread) => {
                    let spread = &spread.node;
                    let when = self.conditions(&spread.directives)?;
                    let def = &self.doc.fragments.get(&spread.fragment_name.node)?.node;
                    if !def.directives.is_empty() {
                        return None;
                    }
                    let name = def.type_condition.node.on.node.clone();
                    let inner = on.narrowed(&name)?;
                    let items_in = self.selection_set(&def.selection_set.node, inner, depth + 1)?;
                    items.push(Item::Fragment { on: Some(name), when, items: items_in });
                }
            }
        }
        Some(items)
    }

    fn conditions(&self, directives: &[Positioned<async_graphql::parser::types::Directive>]) -> Option<Conditions> {
        let mut when = Conditions::default();
        for d in directives {
            let d = &d.node;
            let slot = match d.name.node.as_str() {
                "skip" => &mut when.skip,
                "include" => &mut when.include,
                _ => return None,
            };
            let [(name, value)] = d.arguments.as_slice() else { return None };
            if name.node != "if" || slot.is_some() {
                return None;
            }
            *slot = Some(self.required(self.arg(&value.node)?));
        }
        Some(when)
    }

    /// An argument of a non-null type (or one with a default, which a null does not take).
    fn required(&self, arg: Arg) -> Arg {
        if let Arg::Var(name) = &arg {
            self.required.borrow_mut().push(name.clone());
        }
        arg
    }

    fn arg(&self, value: &Value) -> Option<Arg> {
        match value {
            Value::Variable(name) => {
                // A variable the operation does not declare is a validation error; never here.
                self.variables.iter().any(|v| &v.name == name).then(|| Arg::Var(name.clone()))
            }
            other => Some(Arg::Const(other.clone().into_const()?)),
        }
    }

    /// An input object's argument of type `ty`: as [`Compiler::arg`], or an object literal with
    /// variables among its fields, every one of them declared by the operation.
    fn input(&self, ty: Scalar, value: &Value) -> Option<Arg> {
        if !matches!(value, Value::Object(_)) || value.clone().into_const().is_some() {
            return self.arg(value);
        }
        let declared = |name: Name| match self.variables.iter().any(|v| v.name == name) {
            true => Ok(ConstValue::Null),
            false => Err(()),
        };
        value.clone().into_const_with(declared).ok()?;
        self.inputs.borrow_mut().push((ty, value.clone()));
        Some(Arg::Input(value.clone()))
    }

    /// The field's arguments by name, each at most once, every one of them in `allowed`; those
    /// in `inputs` are input objects of the type given (see [`Compiler::input`]).
    fn args(&self, f: &Field, allowed: &[&str]) -> Option<HashMap<String, Arg>> {
        self.args_with(f, allowed, &[])
    }

    fn args_with(&self, f: &Field, allowed: &[&str], inputs: &[(&str, Scalar)]) -> Option<HashMap<String, Arg>> {
        let mut out = HashMap::new();
        for (name, value) in &f.arguments {
            let name = name.node.as_str();
            let arg = match inputs.iter().find(|(n, _)| *n == name) {
                Some((_, ty)) => self.input(*ty, &value.node)?,
                None if allowed.contains(&name) => self.arg(&value.node)?,
                None => return None,
            };
            if out.insert(name.to_string(), arg).is_some() {
                return None;
            }
        }
        Some(out)
    }

    fn leaf(f: &Field, plan: FieldPlan) -> Option<FieldPlan> {
        (f.arguments.is_empty() && f.selection_set.node.items.is_empty()).then_some(plan)
    }

    fn field(&self, f: &Field, on: Static, depth: usize) -> Option<FieldPlan> {
        let name = f.name.node.as_str();
        if name == "__typename" {
            return Self::leaf(f, FieldPlan::Typename);
        }
        let sub = |ty: Static| self.selection_set(&f.selection_set.node, ty, depth);
        let object = |ty: Static, plan: fn(Vec<Item>) -> FieldPlan| -> Option<FieldPlan> {
            f.arguments.is_empty().then_some(())?;
            Some(plan(sub(ty)?))
        };
        match on {
            Static::Query => match name {
                "entity" => {
                    let mut a = self.args(f, &["slug"])?;
                    Some(FieldPlan::Entity { slug: self.required(a.remove("slug")?), items: sub(Static::Entity)? })
                }
                "nodes" => {
                    let mut a = self.args(f, &["ids"])?;
                    Some(FieldPlan::Nodes { ids: self.required(a.remove("ids")?), items: sub(Static::Node)? })
                }
                "node" => {
                    let mut a = self.args(f, &["id"])?;
                    Some(FieldPlan::Node { id: self.required(a.remove("id")?), items: sub(Static::Node)? })
                }
                "search" => {
                    let mut a = self.args(f, &["query", "first"])?;
                    Some(FieldPlan::Search {
                        query: self.required(a.remove("query")?),
                        first: a.remove("first"),
                        items: sub(Static::Entity)?,
                    })
                }
                "entities" => {
                    let mut a = self.args(f, &["kind", "first", "after"])?;
                    Some(FieldPlan::Entities {
                        kind: a.remove("kind"),
                        first: a.remove("first"),
                        after: a.remove("after"),
                        items: sub(Static::EntityConnection)?,
                    })
                }
                _ => None,
            },
            Static::Node => match name {
                "id" => Self::leaf(f, FieldPlan::EntityId),
                _ => None,
            },
            Static::Entity | Static::Kind(_) => match name {
                "id" => Self::leaf(f, FieldPlan::EntityId),
                "slug" => Self::leaf(f, FieldPlan::Slug),
                "name" => Self::leaf(f, FieldPlan::Name),
                "kind" => Self::leaf(f, FieldPlan::Kind),
                "type" => Self::leaf(f, FieldPlan::Subtype),
                "aliases" => Self::leaf(f, FieldPlan::Aliases),
                "summary" => Self::leaf(f, FieldPlan::Summary),
                "date" => Self::leaf(f, FieldPlan::Date),
                "endDate" => Self::leaf(f, FieldPlan::EndDate),
                "url" => Self::leaf(f, FieldPlan::Url),
                "version" => Self::leaf(f, FieldPlan::Version),
                "relations" => {
                    let mut a = self.args_with(
                        f,
                        &["direction", "kinds", "first", "after"],
                        &[("where", Scalar::RelationFilter), ("orderBy", Scalar::RelationOrder)],
                    )?;
                    Some(FieldPlan::Relations {
                        args: Box::new(RelationArgs {
                            direction: a.remove("direction").map(|d| self.required(d)),
                            kinds: a.remove("kinds"),
                            filter: a.remove("where"),
                            order: a.remove("orderBy"),
                            first: a.remove("first"),
                            after: a.remove("after"),
                        }),
                        items: sub(Static::RelationConnection)?,
                    })
                }
                "title" if on == Static::Kind(EntityKind::Document) => Self::leaf(f, FieldPlan::DocumentTitle),
                "publishedOn" if on == Static::Kind(EntityKind::Document) => Self::leaf(f, FieldPlan::PublishedOn),
                "file" if on == Static::Kind(EntityKind::Document) => Self::leaf(f, FieldPlan::File),
                _ => None,
            },
            Static::Relation => match name {
                "id" => Self::leaf(f, FieldPlan::RelationId),
                "key" => Self::leaf(f, FieldPlan::Key),
                "kind" => Self::leaf(f, FieldPlan::RelationKind),
                "from" => object(Static::Entity, FieldPlan::From),
                "to" => object(Static::Entity, FieldPlan::To),
                "title" => Self::leaf(f, FieldPlan::Title),
                "order" => Self::leaf(f, FieldPlan::Order),
                "validFrom" => Self::leaf(f, FieldPlan::ValidFrom),
                "validUntil" => Self::leaf(f, FieldPlan::ValidUntil),
                "citations" => object(Static::Citation, FieldPlan::Citations),
                "sourceCount" => Self::leaf(f, FieldPlan::SourceCount),
                "version" => Self::leaf(f, FieldPlan::RelationVersion),
                _ => None,
            },
            Static::Citation => match name {
                "document" => object(Static::Kind(EntityKind::Document), FieldPlan::CitedDocument),
                "quote" => Self::leaf(f, FieldPlan::Quote),
                "offset" => {
                    self.needs_texts.set(true);
                    Self::leaf(f, FieldPlan::Offset)
                }
                "length" => {
                    self.needs_texts.set(true);
                    Self::leaf(f, FieldPlan::Length)
                }
                "context" => {
                    self.needs_texts.set(true);
                    let mut a = self.args(f, &["chars"])?;
                    // `Int!`: a variable there that is null (or not sent) is async-graphql's error.
                    let chars = a.remove("chars").map(|c| self.required(c));
                    Some(FieldPlan::Context { chars, items: sub(Static::QuoteContext)? })
                }
                _ => None,
            },
            Static::QuoteContext => match name {
                "before" => Self::leaf(f, FieldPlan::Before),
                "quote" => Self::leaf(f, FieldPlan::Quote),
                "after" => Self::leaf(f, FieldPlan::After),
                _ => None,
            },
            Static::RelationConnection | Static::EntityConnection => {
                let edge = if on == Static::RelationConnection { Static::RelationEdge } else { Static::EntityEdge };
                match name {
                    "edges" => object(edge, FieldPlan::Edges),
                    "pageInfo" => object(Static::PageInfo, FieldPlan::PageInfo),
                    "totalCount" => Self::leaf(f, FieldPlan::TotalCount),
                    _ => None,
                }
            }
            Static::RelationEdge | Static::EntityEdge => {
                let node = if on == Static::RelationEdge { Static::Relation } else { Static::Entity };
                match name {
                    "cursor" => Self::leaf(f, FieldPlan::Cursor),
                    "node" => object(node, FieldPlan::EdgeNode),
                    _ => None,
                }
            }
            Static::PageInfo => match name {
                "hasNextPage" => Self::leaf(f, FieldPlan::HasNextPage),
                "hasPreviousPage" => Self::leaf(f, FieldPlan::HasPreviousPage),
                "startCursor" => Self::leaf(f, FieldPlan::StartCursor),
                "endCursor" => Self::leaf(f, FieldPlan::EndCursor),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(q: &str) -> Option<Plan> {
        compile(&async_graphql::parser::parse_query(q).unwrap())
    }

    #[test]
    fn the_fields_that_carry_the_traffic_compile() {
        assert!(plan("query($s:String!){ entity(slug:$s){ id name relations(first:20){ edges{ node{ kind to{ id name } from{ id name } } } } } }").is_some());
        assert!(plan(
            "{ node(id: \"Relation:x\") { id ... on Relation { kind citations { quote document { title } } } } }"
        )
        .is_some());
        assert!(plan("query($c: Int!) { entity(slug: \"iom\") { relations { edges { node { citations { offset context(chars: $c) { before quote after __typename } } } } } } }").is_some());
        assert!(plan("query($ids: [ID!]!, $k: [RelationKind!]) { nodes(ids: $ids) { id ... on Person { relations(kinds: $k) { totalCount } } } }").is_some());
        assert!(plan("query Named($v: Boolean!) { entity(slug: \"iom\") { slug @include(if: $v) } }").is_some());
        assert!(plan("query($a: String, $k: EntityKind) { entities(first: 5, after: $a, kind: $k) { edges { cursor node { __typename ...F } } pageInfo { hasNextPage endCursor } totalCount } } fragment F on Entity { slug ... on Document { file } }").is_some());
    }

    #[test]
    fn relation_filters_and_orders_compile_as_literals_variables_or_both() {
        assert!(plan("{ entity(slug: \"iom\") { relations(where: { kinds: [ASSISTS], validAt: \"2024\", strict: true }, orderBy: { field: DATE, direction: DESC }) { totalCount } } }").is_some());
        assert!(plan("query($w: RelationFilter, $o: RelationOrder!) { entity(slug: \"iom\") { relations(where: $w, orderBy: $o) { edges { cursor } } } }").is_some());
        assert!(plan("query($d: String, $k: [EntityKind!], $f: RelationOrderField!, $x: OrderDirection) { entity(slug: \"iom\") { relations(where: { dateFrom: $d, otherKinds: $k }, orderBy: { field: $f, direction: $x }) { totalCount } } }").is_some());
        // Variables of these types only as themselves, not in lists.
        assert!(plan("query($w: [RelationFilter!]) { entity(slug: \"iom\") { relations { totalCount } } }").is_none());
        assert!(plan("query($w: RelationFilter = { kinds: [ASSISTS] }) { entity(slug: \"iom\") { relations(where: $w) { totalCount } } }").is_some());
    }

    #[test]
    fn fragments_fanning_out_stop_the_compiler() {
        let mut q = String::from("{ entity(slug: \"iom\") { ...F0 } }\n");
        for i in 0..20 {
            q.push_str(&format!("fragment F{i} on Entity {{ ...F{} ...F{} }}\n", i + 1, i + 1));
        }
        q.push_str("fragment F20 on Entity { id }\n");
        assert!(plan(&q).is_none());
    }

    #[test]
    fn anything_uncovered_leaves_the_document_to_async_graphql() {
        for q in [
            "mutation { deleteEntity(id: \"x\") { id } }",
            "{ entity(slug: \"iom\") { degree } }",
            "query($w: EntityFilter) { entity(slug: \"iom\") { relations(where: $w) { totalCount } } }",
            "{ entity(slug: \"iom\") @cacheControl { id } }",
            "query($ids: [ID]!) { nodes(ids: $ids) { id } }",
            "{ entity(slug: \"iom\") { ... on Person { title } } }",
            "query A { graph { entities } } query B { graph { relations } }",
            "query A { entity(slug: \"iom\") { id } } query B { entity(slug: \"iom\") { slug } }",
            "{ entity(slug: \"iom\") { ... on Document { passages(first: 2) { offset } } } }",
        ] {
            assert!(plan(q).is_none(), "{q}");
        }
    }
}
