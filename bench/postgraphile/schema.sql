-- The graph of `policygraph export --format jsonl` as PostGraphile reads it, for the comparison
-- in bench/http.sh. load.py runs the part above the marker line, copies the rows in, then runs
-- the part below it: keys and indexes built once over the loaded rows are much faster than
-- checked row by row as they come, and the rows are already consistent (they come from a store
-- that validated them).

create table entity (
  id text not null,
  slug text not null,
  kind text not null,
  name text not null,
  type text,
  aliases text[] not null default '{}',
  summary text,
  date text,
  end_date text,
  url text,
  file text,
  text text
);

create table relation (
  id text not null,
  kind text not null,
  from_id text not null,
  to_id text not null,
  title text,
  "order" integer,
  valid_from text,
  valid_until text
);

-- A relation's citations in their order (`position` from 0): the first is the one the
-- benchmark's query asks for.
create table citation (
  relation_id text not null,
  position integer not null,
  document_id text not null,
  quote text
);

-- after the load

alter table entity add primary key (id);
alter table entity add constraint entity_slug_key unique (slug);
alter table relation add primary key (id);
alter table relation add constraint relation_from_id_fkey foreign key (from_id) references entity (id);
alter table relation add constraint relation_to_id_fkey foreign key (to_id) references entity (id);
alter table citation add primary key (relation_id, position);
alter table citation add constraint citation_relation_id_fkey foreign key (relation_id) references relation (id);
alter table citation add constraint citation_document_id_fkey foreign key (document_id) references entity (id);
-- The foreign keys' other side, so that following a relation either way is an index scan
-- (citation's relation_id is the first column of its primary key).
create index relation_from_id_idx on relation (from_id);
create index relation_to_id_idx on relation (to_id);
create index citation_document_id_idx on citation (document_id);

-- Field names as a person would write them, instead of PostGraphile's `entityByFromId`,
-- `relationsByFromId` and the like.
comment on constraint relation_from_id_fkey on relation is E'@fieldName from\n@foreignFieldName outgoing';
comment on constraint relation_to_id_fkey on relation is E'@fieldName to\n@foreignFieldName incoming';
comment on constraint citation_relation_id_fkey on citation is E'@fieldName relation\n@foreignFieldName citations';
comment on constraint citation_document_id_fkey on citation is E'@fieldName document\n@foreignFieldName citedBy';

-- An entity's relations both ways, as policygraph's `Entity.relations` lists them by default
-- (the synthetic graph's relations start at entities drawn uniformly, about 5 each, and end at
-- power-law targets: only both ways together fill a page of 20 as policygraph's query does).
-- PostGraphile exposes it as the computed field `Entity.relations`. A plain SQL function that
-- is stable and not strict is inlined by the planner, so each half is an index scan.
create function entity_relations(e entity) returns setof relation as $$
  select * from relation where from_id = e.id
  union all
  select * from relation where to_id = e.id and from_id <> e.id
$$ language sql stable;
-- `@sortable`: an `orderBy` argument, so the query can ask for the primary key's order.
comment on function entity_relations(entity) is E'@sortable\n@fieldName relations';
