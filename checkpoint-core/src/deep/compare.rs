//! Comparing two writers' schemas by the rules restore resolves them with:
//! what `checkpoint diff` reports between two checkpoints.

use std::collections::HashSet;

use super::change::{DeepChange, DeepChangeKind};
use super::{Content, DeepSchema, NodeId, SchemaNode};

impl DeepSchema {
    /// What a restore of bytes written as `older`'s node `a` into the
    /// types that wrote `newer`'s node `b` would meet: type changes that do
    /// not widen, fields added and removed, variants removed or moved. Paths
    /// are relative to the compared nodes. Positions either side never
    /// wrote are not compared.
    pub fn diff(&self, a: NodeId, newer: &DeepSchema, b: NodeId) -> Vec<DeepChange> {
        let mut out = Vec::new();
        let mut cmp = Compare {
            older: self,
            newer,
            seen: HashSet::new(),
            out: &mut out,
        };
        cmp.node(a, b, String::new(), 0);
        out
    }
}

struct Compare<'a> {
    older: &'a DeepSchema,
    newer: &'a DeepSchema,
    seen: HashSet<(NodeId, NodeId)>,
    out: &'a mut Vec<DeepChange>,
}

impl Compare<'_> {
    fn peel(schema: &DeepSchema, mut id: NodeId) -> NodeId {
        for _ in 0..64 {
            id = schema.follow(id);
            match schema.node(id) {
                SchemaNode::Newtype(_, c) => id = *c,
                _ => break,
            }
        }
        id
    }

    fn changed(&mut self, path: &str, a: NodeId, b: NodeId) {
        self.out.push(DeepChange::new(
            path.to_owned(),
            DeepChangeKind::TypeChanged {
                from: self.older.type_name(a),
                to: self.newer.type_name(b),
            },
        ));
    }

    fn node(&mut self, a: NodeId, b: NodeId, path: String, depth: usize) {
        let (a, b) = (Self::peel(self.older, a), Self::peel(self.newer, b));
        if depth > super::MAX_DEPTH || !self.seen.insert((a, b)) {
            return;
        }
        let d = depth + 1;
        use SchemaNode as N;
        match (self.older.node(a), self.newer.node(b)) {
            (N::Unknown | N::Opaque, _) | (_, N::Unknown | N::Opaque) => {}
            (N::Leaf(x), N::Leaf(y)) => {
                if !x.widens_to(*y) {
                    self.changed(&path, a, b);
                }
            }
            (N::UnitStruct(_), N::UnitStruct(_)) => {}
            (N::Option(x), N::Option(y)) => self.node(*x, *y, path, d),
            (_, N::Option(y)) => self.node(a, *y, path, d),
            (N::Seq(x), N::Seq(y)) => self.node(*x, *y, format!("{path}[]"), d),
            (N::Tuple(xs) | N::TupleStruct(_, xs), N::Seq(y)) => {
                for x in xs {
                    self.node(*x, *y, format!("{path}[]"), d);
                }
            }
            (N::Map(xk, xv), N::Map(yk, yv)) => {
                self.node(*xk, *yk, format!("{path}{{key}}"), d);
                self.node(*xv, *yv, format!("{path}{{value}}"), d);
            }
            (N::Tuple(xs) | N::TupleStruct(_, xs), N::Tuple(ys) | N::TupleStruct(_, ys))
                if xs.len() == ys.len() =>
            {
                for (i, (x, y)) in xs.iter().zip(ys).enumerate() {
                    self.node(*x, *y, format!("{path}.{i}"), d);
                }
            }
            (N::Struct(_, xs), N::Struct(_, ys)) => self.fields(xs, ys, &path, d),
            (N::Enum(_, xs), N::Enum(_, ys)) => {
                for x in xs {
                    let Some(y) = ys.iter().find(|y| y.name == x.name) else {
                        self.out.push(DeepChange::new(
                            path.clone(),
                            DeepChangeKind::VariantMissing(x.name.to_string()),
                        ));
                        continue;
                    };
                    if x.index != y.index {
                        self.out.push(DeepChange::new(
                            path.clone(),
                            DeepChangeKind::VariantMoved {
                                name: x.name.to_string(),
                                from: x.index,
                                to: y.index,
                            },
                        ));
                    }
                    let at = format!("{path}::{}", x.name);
                    match (x.content, y.content) {
                        (Content::Unit, Content::Unit) => {}
                        (Content::Newtype(p), Content::Newtype(q))
                        | (Content::Tuple(p), Content::Tuple(q)) => self.node(p, q, at, d),
                        (Content::Struct(p), Content::Struct(q)) => {
                            if let (N::Struct(_, xs), N::Struct(_, ys)) =
                                (self.older.node(p), self.newer.node(q))
                            {
                                self.fields(xs, ys, &at, d);
                            }
                        }
                        _ => self.out.push(DeepChange::new(
                            at,
                            DeepChangeKind::TypeChanged {
                                from: kind(x.content).to_owned(),
                                to: kind(y.content).to_owned(),
                            },
                        )),
                    }
                }
            }
            _ => self.changed(&path, a, b),
        }
    }

    fn fields(
        &mut self,
        xs: &[(super::Name, NodeId)],
        ys: &[(super::Name, NodeId)],
        path: &str,
        d: usize,
    ) {
        for (name, x) in xs {
            match ys.iter().find(|(n, _)| n == name) {
                Some((_, y)) => self.node(*x, *y, format!("{path}.{name}"), d),
                None => self.out.push(DeepChange::new(
                    path.to_owned(),
                    DeepChangeKind::FieldMissing(name.to_string()),
                )),
            }
        }
        for (name, _) in ys.iter().filter(|(n, _)| xs.iter().all(|(m, _)| m != n)) {
            self.out.push(DeepChange::new(
                path.to_owned(),
                DeepChangeKind::FieldAdded(name.to_string()),
            ));
        }
    }
}

fn kind(content: Content) -> &'static str {
    match content {
        Content::Unit => "a unit variant",
        Content::Newtype(_) => "a newtype variant",
        Content::Tuple(_) => "a tuple variant",
        Content::Struct(_) => "a struct variant",
    }
}
