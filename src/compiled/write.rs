//! Running a [`Plan`]: the variables coerced, the fields collected per object, the answer
//! written as JSON bytes in async-graphql's layout (`{"data":…,"extensions":{"cost":…}}`).
//!
//! Every function here answers `None` for "not this path": the caller then runs the request
//! through async-graphql. Nothing is written to the client before the whole answer is made.

use std::sync::{Arc, OnceLock};

use async_graphql::{InputType, Name};
use async_graphql_value::ConstValue;

use super::{Arg, Conditions, FieldPlan, Item, Plan, Scalar};
use crate::api::filters::OrderDirection;
use crate::api::relations::{RelationFilterInput, RelationOrder, RelationOrderField};
use crate::api::types as gql;
use crate::domain::{self, EntityKind};
use crate::graph::{self, GraphIndex};

/// A request's variables, coerced as the operation declares them.
struct Vars<'a> {
    plan: &'a Plan,
    values: Vec<Option<ConstValue>>,
}

impl Vars<'_> {
    /// The value of an argument as async-graphql's resolver reads it.
    fn get(&self, arg: &Arg) -> Option<ConstValue> {
        match arg {
            Arg::Const(v) => Some(v.clone()),
            Arg::Var(name) => self.var(name),
            Arg::Input(value) => self.input(value),
        }
    }

    fn input(&self, value: &async_graphql_value::Value) -> Option<ConstValue> {
        value.clone().into_const_with(|name| self.var(&name).ok_or(())).ok()
    }

    /// A variable's value. One that was not sent and has no default is null to async-graphql
    /// (`VariableDefinition::default_value`), not an argument left out: `direction: $d` then
    /// is an error, not the argument's default (`coerce` has refused a non-null one).
    fn var(&self, name: &Name) -> Option<ConstValue> {
        let i = self.plan.variables.iter().position(|v| &v.name == name)?;
        Some(self.values[i].clone().unwrap_or(ConstValue::Null))
    }
}

/// Coerces the request's variables as the operation declares them; `None` for any value that
/// async-graphql would refuse, or that this module would not read exactly as it does (an `ID`
/// sent as a number, a float for an `Int`, an explicit null where a default exists).
fn coerce(plan: &Plan, given: Option<&serde_json::Map<String, serde_json::Value>>) -> Option<Vec<Option<ConstValue>>> {
    let mut out = Vec::with_capacity(plan.variables.len());
    for v in &plan.variables {
        let value = match given.and_then(|g| g.get(v.name.as_str())) {
            None => match &v.default {
                Some(ConstValue::List(items)) if v.list => {
                    Some(ConstValue::List(items.iter().map(|i| check_const(v.ty, i)).collect::<Option<_>>()?))
                }
                Some(_) if v.list => return None,
                Some(d) => Some(check_const(v.ty, d)?),
                None if v.nullable => None,
                None => return None,
            },
            Some(serde_json::Value::Null) if v.nullable && v.default.is_none() && !v.required => Some(ConstValue::Null),
            Some(serde_json::Value::Null) => return None,
            Some(serde_json::Value::Array(items)) if v.list => {
                Some(ConstValue::List(items.iter().map(|i| from_json(v.ty, i)).collect::<Option<_>>()?))
            }
            // A single value for a list is a list of one to async-graphql; not read here.
            Some(_) if v.list => return None,
            Some(json) => Some(from_json(v.ty, json)?),
        };
        // async-graphql validates an input object with the variables sent before it runs
        // anything, so one it would refuse is refused wherever it stands, read or not.
        if !valid_input(v.ty, value.as_ref()) {
            return None;
        }
        out.push(value);
    }
    Some(out)
}

/// Whether a value of one of the input object types is one `input_object` reads (anything else
/// is not an input object: valid as its scalar has been found).
fn valid_input(ty: Scalar, value: Option<&ConstValue>) -> bool {
    match ty {
        Scalar::RelationFilter => input_object::<RelationFilterInput>(&FILTER_FIELDS, value.cloned()).is_some(),
        Scalar::RelationOrder => input_object::<RelationOrder>(&ORDER_FIELDS, value.cloned()).is_some(),
        _ => true,
    }
}

fn from_json(ty: Scalar, json: &serde_json::Value) -> Option<ConstValue> {
    use serde_json::Value as J;
    Some(match (ty, json) {
        (Scalar::String | Scalar::Id, J::String(s)) => ConstValue::String(s.clone()),
        (Scalar::Int, J::Number(n)) => ConstValue::Number(i32::try_from(n.as_i64()?).ok()?.into()),
        (Scalar::Boolean, J::Bool(b)) => ConstValue::Boolean(*b),
        (Scalar::Direction, J::String(s)) if parsed::<gql::Direction>(s).is_some() => ConstValue::Enum(Name::new(s)),
        (Scalar::EntityKind, J::String(s)) if entity_kind(s).is_some() => ConstValue::Enum(Name::new(s)),
        (Scalar::RelationKind, J::String(s)) if relation_kind(s).is_some() => ConstValue::Enum(Name::new(s)),
        (Scalar::OrderDirection, J::String(s)) if parsed::<OrderDirection>(s).is_some() => {
            ConstValue::Enum(Name::new(s))
        }
        (Scalar::RelationOrderField, J::String(s)) if parsed::<RelationOrderField>(s).is_some() => {
            ConstValue::Enum(Name::new(s))
        }
        // As async-graphql takes it (`Variables::from_json`); its fields are checked where the
        // value is read, as a literal's are (`input_object`).
        (Scalar::RelationFilter | Scalar::RelationOrder, J::Object(_)) => ConstValue::from_json(json.clone()).ok()?,
        _ => return None,
    })
}

fn check_const(ty: Scalar, v: &ConstValue) -> Option<ConstValue> {
    let ok = match (ty, v) {
        (Scalar::String | Scalar::Id, ConstValue::String(_)) => true,
        (Scalar::Int, ConstValue::Number(n)) => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
        (Scalar::Boolean, ConstValue::Boolean(_)) => true,
        (Scalar::Direction, ConstValue::Enum(e)) => parsed::<gql::Direction>(e).is_some(),
        (Scalar::EntityKind, ConstValue::Enum(e)) => entity_kind(e).is_some(),
        (Scalar::RelationKind, ConstValue::Enum(e)) => relation_kind(e).is_some(),
        (Scalar::OrderDirection, ConstValue::Enum(e)) => parsed::<OrderDirection>(e).is_some(),
        (Scalar::RelationOrderField, ConstValue::Enum(e)) => parsed::<RelationOrderField>(e).is_some(),
        (Scalar::RelationFilter | Scalar::RelationOrder, ConstValue::Object(_)) => true,
        _ => false,
    };
    ok.then(|| v.clone())
}

/// An enum's value by its GraphQL name, as async-graphql parses it.
fn parsed<T: InputType>(name: &str) -> Option<T> {
    T::parse(Some(ConstValue::Enum(Name::new(name)))).ok()
}

fn relation_kind(name: &str) -> Option<domain::RelationKind> {
    parsed::<gql::RelationKind>(name).map(Into::into)
}

fn entity_kind(name: &str) -> Option<EntityKind> {
    parsed::<gql::EntityKind>(name).map(Into::into)
}

/// The names of an input object's fields, each with whether it is non-null, as async-graphql's
/// registry has them.
type InputFields = OnceLock<Vec<(String, bool)>>;

static FILTER_FIELDS: InputFields = OnceLock::new();
static ORDER_FIELDS: InputFields = OnceLock::new();

/// An input object argument as the resolver receives it (`Some(None)`: not given, or null),
/// parsed by the type's own `InputType::parse`; `None` for a value async-graphql's validation
/// would refuse before it parsed it: a field the type does not have, or a null in a non-null
/// field (the parse alone would take the first and may take the second).
fn input_object<T: InputType>(fields: &'static InputFields, value: Option<ConstValue>) -> Option<Option<T>> {
    let fields = fields.get_or_init(|| {
        let mut registry = async_graphql::registry::Registry::default();
        T::create_type_info(&mut registry);
        match registry.types.get(T::type_name().as_ref()) {
            Some(async_graphql::registry::MetaType::InputObject { input_fields, .. }) => {
                input_fields.values().map(|f| (f.name.clone(), f.ty.ends_with('!'))).collect()
            }
            _ => Vec::new(),
        }
    });
    match value {
        None | Some(ConstValue::Null) => Some(None),
        Some(ConstValue::Object(given)) => {
            for (name, v) in &given {
                let (_, non_null) = fields.iter().find(|(f, _)| f == name.as_str())?;
                if *non_null && *v == ConstValue::Null {
                    return None;
                }
            }
            T::parse(Some(ConstValue::Object(given))).ok().map(Some)
        }
        Some(_) => None,
    }
}

/// The GraphQL name of a model enum's value, as async-graphql writes it, made once per value.
fn enum_name<'n, T: Copy + PartialEq, G: InputType + From<T>>(
    all: &[T],
    names: &'n OnceLock<Vec<String>>,
    v: T,
) -> &'n str {
    let names = names.get_or_init(|| {
        all.iter()
            .map(|k| match G::from(*k).to_value() {
                ConstValue::Enum(n) => n.to_string(),
                other => other.to_string(),
            })
            .collect()
    });
    all.iter().position(|k| *k == v).map(|i| names[i].as_str()).unwrap_or_default()
}

fn entity_kind_name(k: EntityKind) -> &'static str {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    enum_name::<_, gql::EntityKind>(EntityKind::ALL, &NAMES, k)
}

fn relation_kind_name(k: domain::RelationKind) -> &'static str {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    enum_name::<_, gql::RelationKind>(domain::RelationKind::ALL, &NAMES, k)
}

/// What running a plan came to.
pub enum Ran {
    /// The whole answer's bytes.
    Answer(Vec<u8>),
    /// Not run to the end because it reached work that belongs off the HTTP worker (a hub's
    /// relations page, a search) and `light` asked for none: run it again on the executor.
    Heavy,
    /// Not a request the plan answers exactly as async-graphql would (see the module's
    /// invariant): async-graphql's.
    Declined,
}

/// Runs a plan over one view of the graph. `cost` is the operation's cost as
/// [`crate::api::limits`] prices it; over `max_cost` the request is async-graphql's to refuse.
/// `light`: stop at work whose size grows with the graph (see [`Ran::Heavy`]), so that a run on
/// an HTTP worker stays as short as its cost says.
pub fn run(plan: &Plan, g: &GraphIndex, request: Request<'_>, cost: u64, max_cost: u64, light: bool) -> Ran {
    let answer = (|| {
        if cost > max_cost || request.operation.is_some_and(|o| plan.name.as_deref() != Some(o)) {
            return None;
        }
        let values = coerce(plan, request.variables)?;
        let vars = Vars { plan, values };
        if !plan.inputs.iter().all(|(ty, value)| vars.input(value).is_some_and(|v| valid_input(*ty, Some(&v)))) {
            return None;
        }
        if plan.needs_texts && request.texts.is_none() {
            return None;
        }
        let mut w = Writer {
            out: Vec::with_capacity(1024),
            vars: &vars,
            g,
            waited: false,
            scratch: String::new(),
            light,
            texts: request.texts,
        };
        w.out.extend_from_slice(b"{\"data\":");
        let written = w.object(&[&plan.root], Object::Query);
        if written.is_none() && w.light && w.waited {
            return Some(Ran::Heavy);
        }
        written?;
        w.out.extend_from_slice(b",\"extensions\":{\"cost\":{\"requested\":");
        w.number(cost);
        w.out.extend_from_slice(b",\"limit\":");
        w.number(max_cost);
        w.out.extend_from_slice(b"}}}");
        Some(Ran::Answer(w.out))
    })();
    answer.unwrap_or(Ran::Declined)
}

/// What a request brings to a plan: the operation it names and its variables.
#[derive(Clone, Copy)]
pub struct Request<'r> {
    pub operation: Option<&'r str>,
    pub variables: Option<&'r serde_json::Map<String, serde_json::Value>>,
    /// The texts the server holds, when the plan reads them ([`Plan::needs_texts`]).
    pub texts: Option<&'r domain::DocumentTexts>,
}

/// An object being written, with what its fields are read from.
#[derive(Clone, Copy)]
enum Object<'a> {
    Query,
    Entity(&'a Arc<domain::Entity>),
    Relation(graph::RelationRef<'a>),
    Citation(&'a domain::Citation),
    /// The text before a quote, the quote, the text after it.
    QuoteContext([&'a str; 3]),
    RelationConnection(&'a RelationPage<'a>),
    RelationEdge(&'a (String, graph::RelationRef<'a>)),
    EntityConnection(&'a crate::api::query::PlainEntities),
    EntityEdge(&'a (String, Arc<domain::Entity>)),
    PageInfo(&'a PageInfo<'a>),
}

impl Object<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Object::Query => "Query",
            Object::Entity(e) => gql::type_name(e.kind),
            Object::Relation(_) => "Relation",
            Object::Citation(_) => "Citation",
            Object::QuoteContext(_) => "QuoteContext",
            Object::RelationConnection(_) => "RelationConnection",
            Object::RelationEdge(_) => "RelationEdge",
            Object::EntityConnection(_) => "EntityConnection",
            Object::EntityEdge(_) => "EntityEdge",
            Object::PageInfo(_) => "PageInfo",
        }
    }

    /// Whether a fragment on `name` applies to this object.
    fn is(&self, name: &str) -> bool {
        name == self.type_name()
            || match self {
                Object::Entity(_) => name == "Entity" || name == "Node",
                Object::Relation(_) => name == "Node",
                _ => false,
            }
    }
}

/// What a global ID names: an entity of the index, or a relation rebuilt from it.
enum Found<'g> {
    Entity(&'g Arc<domain::Entity>),
    Relation(graph::RelationRef<'g>),
}

impl Found<'_> {
    fn object(&self) -> Object<'_> {
        match self {
            Found::Entity(e) => Object::Entity(e),
            Found::Relation(r) => Object::Relation(*r),
        }
    }
}

struct RelationPage<'g> {
    edges: Vec<(String, graph::RelationRef<'g>)>,
    total: usize,
    /// How many relations precede the page.
    start: usize,
}

/// A connection's `pageInfo`, its cursors borrowed from the page's edges.
struct PageInfo<'a> {
    has_next_page: bool,
    has_previous_page: bool,
    start_cursor: Option<&'a str>,
    end_cursor: Option<&'a str>,
}

impl<'a> PageInfo<'a> {
    fn of<T>(edges: &'a [(String, T)], has_next_page: bool, has_previous_page: bool) -> PageInfo<'a> {
        PageInfo {
            has_next_page,
            has_previous_page,
            start_cursor: edges.first().map(|e| e.0.as_str()),
            end_cursor: edges.last().map(|e| e.0.as_str()),
        }
    }
}

/// The fields of one response key: the first one's place and arguments, every one's selections.
struct Group<'p> {
    key: &'p Name,
    fields: Vec<&'p FieldPlan>,
}

struct Writer<'a> {
    out: Vec<u8>,
    vars: &'a Vars<'a>,
    g: &'a GraphIndex,
    /// Whether what is being written has a part async-graphql resolves on the blocking pool (a
    /// hub's relations page, a search): see [`Writer::object`].
    waited: bool,
    /// Where a global ID is put together before it is written (no allocation per ID).
    scratch: String,
    /// Give up at the first heavy part (see [`Ran::Heavy`]).
    light: bool,
    texts: Option<&'a domain::DocumentTexts>,
}

impl<'a> Writer<'a> {
    fn number(&mut self, n: impl itoa::Integer) {
        self.out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    fn string(&mut self, s: &str) {
        // serde_json's escaping is async-graphql's (it serializes its values with serde_json).
        let _ = serde_json::to_writer(&mut self.out, s);
    }

    /// A global ID, `<Type>:<key>`.
    fn global_id(&mut self, ty: &str, key: &str) {
        let mut id = std::mem::take(&mut self.scratch);
        id.clear();
        id.push_str(ty);
        id.push(':');
        id.push_str(key);
        self.string(&id);
        self.scratch = id;
    }

    fn opt_string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.string(s),
            None => self.out.extend_from_slice(b"null"),
        }
    }

    fn boolean(&mut self, b: bool) {
        self.out.extend_from_slice(if b { b"true" } else { b"false" });
    }

    fn date(&mut self, d: Option<domain::PartialDate>) {
        match d {
            Some(d) => self.string(&d.to_string()),
            None => self.out.extend_from_slice(b"null"),
        }
    }

    /// Whether `@skip`/`@include` keep a selection; `None`: a condition that is not a boolean.
    fn keeps(&self, when: &Conditions) -> Option<bool> {
        let value = |arg: &Arg| match self.vars.get(arg)? {
            ConstValue::Boolean(b) => Some(b),
            _ => None,
        };
        let skip = match &when.skip {
            Some(a) => value(a)?,
            None => false,
        };
        let include = match &when.include {
            Some(a) => value(a)?,
            None => true,
        };
        Some(!skip && include)
    }

    fn collect<'p>(&self, items: &'p [Item], object: &Object<'_>, groups: &mut Vec<Group<'p>>) -> Option<()> {
        for item in items {
            match item {
                Item::Field { key, when, field } => {
                    if !self.keeps(when)? {
                        continue;
                    }
                    match groups.iter_mut().find(|g| g.key == key) {
                        Some(g) => g.fields.push(field),
                        None => groups.push(Group { key, fields: vec![field] }),
                    }
                }
                Item::Fragment { on, when, items } => {
                    if self.keeps(when)? && on.as_ref().is_none_or(|n| object.is(n)) {
                        self.collect(items, object, groups)?;
                    }
                }
            }
        }
        Some(())
    }

    /// Writes an object: its selections (from every field merged into this one) collected for
    /// its type, each field in its first place.
    fn object(&mut self, sets: &[&[Item]], object: Object<'_>) -> Option<()> {
        let mut groups = Vec::new();
        for items in sets {
            self.collect(items, &object, &mut groups)?;
        }
        // async-graphql answers null for an object whose every field is skipped, not `{}`.
        if groups.is_empty() {
            return None;
        }
        // async-graphql resolves an object's fields together and puts each in the answer as it
        // completes. Those that complete at once come in order; one that waits for the blocking
        // pool (a hub's relations page, a search), or has such a field inside it, comes wherever
        // it finishes: beside other fields its place varies from one request to the next (seen
        // in the differential tests), so no plan can write async-graphql's bytes. Such an object
        // is async-graphql's; a waiting field alone in its object has one place.
        let waited_before = std::mem::replace(&mut self.waited, false);
        self.out.push(b'{');
        for (i, group) in groups.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.string(group.key.as_str());
            self.out.push(b':');
            self.field(group, object)?;
            if self.waited && groups.len() > 1 {
                return None;
            }
        }
        self.out.push(b'}');
        self.waited |= waited_before;
        Some(())
    }

    fn list<T>(&mut self, values: &[T], mut each: impl FnMut(&mut Self, &T) -> Option<()>) -> Option<()> {
        self.out.push(b'[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            each(self, v)?;
        }
        self.out.push(b']');
        Some(())
    }

    fn field(&mut self, group: &Group<'_>, object: Object<'_>) -> Option<()> {
        let first = group.fields[0];
        // The selections of every field merged under this key.
        let subs = |pick: fn(&FieldPlan) -> Option<&[Item]>| -> Vec<&[Item]> {
            group.fields.iter().filter_map(|f| pick(f)).collect()
        };
        if let FieldPlan::Typename = first {
            self.string(object.type_name());
            return Some(());
        }
        match object {
            Object::Query => self.query_field(first, &subs(items_of)),
            Object::Entity(e) => self.entity_field(first, e, &subs(items_of)),
            Object::Relation(r) => self.relation_field(first, r, &subs(items_of)),
            Object::Citation(c) => match first {
                FieldPlan::Quote => {
                    self.opt_string(c.quote.as_deref());
                    Some(())
                }
                FieldPlan::Offset | FieldPlan::Length => {
                    match (self.located(c), first) {
                        (Some((_, s)), FieldPlan::Offset) => self.number(s.offset as i32),
                        (Some((_, s)), _) => self.number(s.length as i32),
                        (None, _) => self.out.extend_from_slice(b"null"),
                    }
                    Some(())
                }
                FieldPlan::Context { chars, .. } => {
                    let chars = match self.int(chars.as_ref())? {
                        Some(n) => n,
                        None => crate::api::types::DEFAULT_CONTEXT_CHARS,
                    };
                    // A negative number is the field's error, which async-graphql answers.
                    let chars = crate::api::types::context_chars(chars).ok()?;
                    match self.located(c) {
                        Some((text, span)) => {
                            self.object(&subs(items_of), Object::QuoteContext(text.around(span, chars)))
                        }
                        None => {
                            self.out.extend_from_slice(b"null");
                            Some(())
                        }
                    }
                }
                FieldPlan::CitedDocument(_) => {
                    // The resolver answers an internal error for a citation of a missing document.
                    let d = self.g.entity(&c.document)?;
                    if d.kind != EntityKind::Document {
                        return None;
                    }
                    self.object(&subs(items_of), Object::Entity(d))
                }
                _ => None,
            },
            Object::QuoteContext([before, quote, after]) => {
                match first {
                    FieldPlan::Before => self.string(before),
                    FieldPlan::Quote => self.string(quote),
                    FieldPlan::After => self.string(after),
                    _ => return None,
                }
                Some(())
            }
            Object::RelationConnection(p) => match first {
                FieldPlan::Edges(_) => {
                    let sets = subs(items_of);
                    self.list(&p.edges, |w, e| w.object(&sets, Object::RelationEdge(e)))
                }
                FieldPlan::PageInfo(_) => {
                    let info = PageInfo::of(&p.edges, p.start + p.edges.len() < p.total, p.start > 0);
                    self.object(&subs(items_of), Object::PageInfo(&info))
                }
                FieldPlan::TotalCount => {
                    self.number(p.total);
                    Some(())
                }
                _ => None,
            },
            Object::EntityConnection(p) => match first {
                FieldPlan::Edges(_) => {
                    let sets = subs(items_of);
                    self.list(&p.edges, |w, e| w.object(&sets, Object::EntityEdge(e)))
                }
                FieldPlan::PageInfo(_) => {
                    let info = PageInfo::of(&p.edges, p.has_next_page, p.has_previous_page);
                    self.object(&subs(items_of), Object::PageInfo(&info))
                }
                FieldPlan::TotalCount => {
                    self.number(p.total_count);
                    Some(())
                }
                _ => None,
            },
            Object::RelationEdge((cursor, r)) => match first {
                FieldPlan::Cursor => {
                    self.string(cursor);
                    Some(())
                }
                FieldPlan::EdgeNode(_) => self.object(&subs(items_of), Object::Relation(*r)),
                _ => None,
            },
            Object::EntityEdge((cursor, e)) => match first {
                FieldPlan::Cursor => {
                    self.string(cursor);
                    Some(())
                }
                FieldPlan::EdgeNode(_) => self.object(&subs(items_of), Object::Entity(e)),
                _ => None,
            },
            Object::PageInfo(p) => {
                match first {
                    FieldPlan::HasNextPage => self.boolean(p.has_next_page),
                    FieldPlan::HasPreviousPage => self.boolean(p.has_previous_page),
                    FieldPlan::StartCursor => self.opt_string(p.start_cursor),
                    FieldPlan::EndCursor => self.opt_string(p.end_cursor),
                    _ => return None,
                }
                Some(())
            }
        }
    }

    fn query_field(&mut self, field: &FieldPlan, sets: &[&[Item]]) -> Option<()> {
        match field {
            FieldPlan::Entity { slug, .. } => {
                let ConstValue::String(slug) = self.vars.get(slug)? else { return None };
                // Not found here: a moved, renamed or deleted entity, or an error; async-graphql's.
                let e = self.g.entity_by_slug(&slug)?;
                self.object(sets, Object::Entity(e))
            }
            FieldPlan::Node { id, .. } => {
                let ConstValue::String(id) = self.vars.get(id)? else { return None };
                let node = self.node(&id)?;
                self.object(sets, node.object())
            }
            FieldPlan::Search { query, first, .. } => {
                let ConstValue::String(query) = self.vars.get(query)? else { return None };
                let first = crate::api::types::page_size(self.int(first.as_ref())?).ok()?;
                if graph::normalize(&query).is_empty() {
                    return None;
                }
                // The resolver searches on the blocking pool (see `object`).
                self.waited = true;
                if self.light {
                    return None;
                }
                let found = self.g.search(&query, None, first);
                self.list(&found, |w, e| w.object(sets, Object::Entity(e)))
            }
            FieldPlan::Nodes { ids, .. } => {
                let ConstValue::List(ids) = self.vars.get(ids)? else { return None };
                if ids.len() > crate::api::types::MAX_PAGE {
                    return None;
                }
                let mut found = Vec::with_capacity(ids.len());
                for id in &ids {
                    let ConstValue::String(id) = id else { return None };
                    // A missing one is a null with an error, or the survivor of a merge: async-graphql's.
                    found.push(self.node(id)?);
                }
                self.list(&found, |w, n| w.object(sets, n.object()))
            }
            FieldPlan::Entities { kind, first, after, .. } => {
                let kind = match self.given(kind.as_ref())? {
                    None | Some(ConstValue::Null) => None,
                    Some(ConstValue::Enum(k)) => Some(entity_kind(&k)?),
                    Some(_) => return None,
                };
                let first = self.int(first.as_ref())?;
                let after = self.opt_str(after.as_ref())?;
                let page = crate::api::query::plain_entities(self.g, kind, first, after.as_deref()).ok()?;
                self.object(sets, Object::EntityConnection(&page))
            }
            _ => None,
        }
    }

    /// What a global ID names, as `api::types::resolve_node` finds it; `None` for anything else
    /// (a malformed ID, an unknown type, nothing there).
    fn node(&self, id: &str) -> Option<Found<'a>> {
        let (ty, key) = id.split_once(':')?;
        if ty == "Relation" {
            return self.g.relation_ref(key).map(Found::Relation);
        }
        self.g.entity(key).filter(|e| gql::type_name(e.kind) == ty).map(Found::Entity)
    }

    /// An argument's value, `Some(None)` when it is not written; `None`: not to be read here.
    fn given(&self, arg: Option<&Arg>) -> Option<Option<ConstValue>> {
        match arg {
            None => Some(None),
            Some(a) => self.vars.get(a).map(Some),
        }
    }

    /// A citation's quote in its document's text, as the resolver finds it: the cited
    /// document's file, the text this server holds for it, the quote in that.
    fn located(&self, c: &domain::Citation) -> Option<(&'a Arc<domain::DocumentText>, domain::Span)> {
        let quote = c.quote.as_deref()?;
        let file = self.g.entity(&c.document)?.extra.file.as_deref()?;
        let text = self.texts?.get(file)?;
        Some((text, text.located(quote)?))
    }

    /// An optional `Int` argument: `Some(None)` when not given or null.
    fn int(&self, arg: Option<&Arg>) -> Option<Option<i32>> {
        match self.given(arg)? {
            None | Some(ConstValue::Null) => Some(None),
            Some(ConstValue::Number(n)) => Some(Some(i32::try_from(n.as_i64()?).ok()?)),
            Some(_) => None,
        }
    }

    /// An optional `String` argument: `Some(None)` when not given or null.
    fn opt_str(&self, arg: Option<&Arg>) -> Option<Option<String>> {
        match self.given(arg)? {
            None | Some(ConstValue::Null) => Some(None),
            Some(ConstValue::String(s)) => Some(Some(s)),
            Some(_) => None,
        }
    }

    fn entity_field(&mut self, field: &FieldPlan, e: &Arc<domain::Entity>, sets: &[&[Item]]) -> Option<()> {
        match field {
            FieldPlan::EntityId => self.global_id(gql::type_name(e.kind), &e.id),
            FieldPlan::Slug => self.string(e.slug.as_str()),
            FieldPlan::Name | FieldPlan::DocumentTitle => self.string(&e.name),
            FieldPlan::Kind => self.string(entity_kind_name(e.kind)),
            FieldPlan::Subtype => self.opt_string(e.subtype.as_deref()),
            FieldPlan::Aliases => self.list(&e.aliases, |w, a| {
                w.string(a);
                Some(())
            })?,
            FieldPlan::Summary => self.opt_string(e.summary.as_deref()),
            FieldPlan::Date | FieldPlan::PublishedOn => self.date(e.date),
            FieldPlan::EndDate => self.date(e.extra.end_date),
            FieldPlan::Url => self.opt_string(e.extra.url.as_deref()),
            FieldPlan::File => self.opt_string(e.extra.file.as_deref()),
            FieldPlan::Version => self.number(e.version),
            FieldPlan::Relations { args, .. } => {
                let super::RelationArgs { direction: dir, kinds, filter, order, first, after } = &**args;
                // A hub's page is made on the blocking pool (see `object`).
                if self.g.has_relations(&e.id, crate::api::relations::OFF_WORKER_RELATIONS) {
                    self.waited = true;
                    if self.light {
                        return None;
                    }
                }
                let direction = match self.given(dir.as_ref())? {
                    None => gql::Direction::Both,
                    Some(ConstValue::Enum(d)) => parsed(&d)?,
                    Some(_) => return None,
                };
                let kinds = match self.given(kinds.as_ref())? {
                    None | Some(ConstValue::Null) => None,
                    Some(ConstValue::List(ks)) => Some(
                        ks.iter()
                            .map(|k| match k {
                                ConstValue::Enum(k) => parsed::<gql::RelationKind>(k),
                                _ => None,
                            })
                            .collect::<Option<Vec<_>>>()?,
                    ),
                    Some(_) => return None,
                };
                let filter = input_object::<RelationFilterInput>(&FILTER_FIELDS, self.given(filter.as_ref())?)?;
                let order = input_object::<RelationOrder>(&ORDER_FIELDS, self.given(order.as_ref())?)?;
                let first = self.int(first.as_ref())?;
                let after = self.opt_str(after.as_ref())?;
                let (edges, total, start) = crate::api::relations::plain_page(
                    self.g,
                    &e.id,
                    direction,
                    kinds,
                    filter,
                    order,
                    first,
                    after.as_deref(),
                )
                .ok()?;
                let page = RelationPage { edges, total, start };
                self.object(sets, Object::RelationConnection(&page))?;
            }
            _ => return None,
        }
        Some(())
    }

    fn relation_field(&mut self, field: &FieldPlan, r: graph::RelationRef<'_>, sets: &[&[Item]]) -> Option<()> {
        match field {
            FieldPlan::RelationId | FieldPlan::EntityId => self.global_id("Relation", r.id()),
            FieldPlan::Key => self.string(r.id()),
            FieldPlan::RelationKind => self.string(relation_kind_name(r.kind())),
            FieldPlan::From(_) => return self.object(sets, Object::Entity(r.ends().0)),
            FieldPlan::To(_) => return self.object(sets, Object::Entity(r.ends().1)),
            FieldPlan::Title => self.opt_string(r.title()),
            FieldPlan::Order => match r.order() {
                Some(o) => self.number(o),
                None => self.out.extend_from_slice(b"null"),
            },
            FieldPlan::ValidFrom => self.date(r.period().0),
            FieldPlan::ValidUntil => self.date(r.period().1),
            FieldPlan::Citations(_) => {
                // Citations after the first are kept whole only in the relation's rarer part:
                // read it out as the resolver does.
                let full = r.get();
                return self.list(&full.citations, |w, c| w.object(sets, Object::Citation(c)));
            }
            FieldPlan::SourceCount => self.number(r.source_count()),
            FieldPlan::RelationVersion => self.number(r.version()),
            _ => return None,
        }
        Some(())
    }
}

/// The selections of a field that has them.
fn items_of(f: &FieldPlan) -> Option<&[Item]> {
    match f {
        FieldPlan::Entity { items, .. }
        | FieldPlan::Nodes { items, .. }
        | FieldPlan::Search { items, .. }
        | FieldPlan::Node { items, .. }
        | FieldPlan::Entities { items, .. }
        | FieldPlan::Relations { items, .. }
        | FieldPlan::From(items)
        | FieldPlan::To(items)
        | FieldPlan::Citations(items)
        | FieldPlan::CitedDocument(items)
        | FieldPlan::Context { items, .. }
        | FieldPlan::Edges(items)
        | FieldPlan::PageInfo(items)
        | FieldPlan::EdgeNode(items) => Some(items),
        _ => None,
    }
}
